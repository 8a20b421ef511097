/* openapi_doc.S: docs/openapi.json (made from docs/openapi.yaml by
 * `make openapi`) compiled into the binary, NUL-terminated, so an installed
 * tollgate answers GET /v1/openapi.json without a source tree. */
	.section .rodata
	.global tg_openapi_json
tg_openapi_json:
	.incbin "docs/openapi.json"
	.byte 0

	.section .note.GNU-stack,"",@progbits
