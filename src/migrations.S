/* migrations.S: the files of sql/ compiled into the binary, each NUL-terminated,
 * so an installed tollgate needs no source tree. db.c lists them in order. */
	.section .rodata
	.global tg_sql_001
tg_sql_001:
	.incbin "sql/001_foundation.sql"
	.byte 0
	.global tg_sql_002
tg_sql_002:
	.incbin "sql/002_identity.sql"
	.byte 0
	.global tg_sql_003
tg_sql_003:
	.incbin "sql/003_api_keys.sql"
	.byte 0
	.global tg_sql_004
tg_sql_004:
	.incbin "sql/004_projects.sql"
	.byte 0
	.global tg_sql_005
tg_sql_005:
	.incbin "sql/005_tables.sql"
	.byte 0
	.global tg_sql_006
tg_sql_006:
	.incbin "sql/006_spinners.sql"
	.byte 0
	.global tg_sql_007
tg_sql_007:
	.incbin "sql/007_idempotency_expiry.sql"
	.byte 0
	.global tg_sql_008
tg_sql_008:
	.incbin "sql/008_job_indexes.sql"
	.byte 0
	.global tg_sql_009
tg_sql_009:
	.incbin "sql/009_idempotency_claim.sql"
	.byte 0
	.global tg_sql_010
tg_sql_010:
	.incbin "sql/010_devices.sql"
	.byte 0
	.global tg_sql_011
tg_sql_011:
	.incbin "sql/011_plan_rate_limits.sql"
	.byte 0
	.global tg_sql_012
tg_sql_012:
	.incbin "sql/012_session_activity.sql"
	.byte 0
	.global tg_sql_013
tg_sql_013:
	.incbin "sql/013_webhooks.sql"
	.byte 0

	.section .note.GNU-stack,"",@progbits
