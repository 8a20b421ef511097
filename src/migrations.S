/* migrations.S: the files of sql/ compiled into the binary, each NUL-terminated,
 * so an installed tollgate needs no source tree. db.c lists them in order. */
	.section .rodata
	.global tg_sql_001
tg_sql_001:
	.incbin "sql/001_foundation.sql"
	.byte 0

	.section .note.GNU-stack,"",@progbits
