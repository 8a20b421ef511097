/* migrations.S: the files of sql/ (SQLite) and sql/pg/ (PostgreSQL) compiled
 * into the binary, each NUL-terminated, so an installed tollgate needs no
 * source tree. db.c lists them in order. */
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
	.global tg_sql_014
tg_sql_014:
	.incbin "sql/014_rate_buckets.sql"
	.byte 0
	.global tg_sql_015
tg_sql_015:
	.incbin "sql/015_rate_take_clock.sql"
	.byte 0

/* sql/pg/: the same steps for PostgreSQL, in the same order. */
	.global tg_pg_001
tg_pg_001:
	.incbin "sql/pg/001_foundation.sql"
	.byte 0
	.global tg_pg_002
tg_pg_002:
	.incbin "sql/pg/002_identity.sql"
	.byte 0
	.global tg_pg_003
tg_pg_003:
	.incbin "sql/pg/003_api_keys.sql"
	.byte 0
	.global tg_pg_004
tg_pg_004:
	.incbin "sql/pg/004_projects.sql"
	.byte 0
	.global tg_pg_005
tg_pg_005:
	.incbin "sql/pg/005_tables.sql"
	.byte 0
	.global tg_pg_006
tg_pg_006:
	.incbin "sql/pg/006_spinners.sql"
	.byte 0
	.global tg_pg_007
tg_pg_007:
	.incbin "sql/pg/007_idempotency_expiry.sql"
	.byte 0
	.global tg_pg_008
tg_pg_008:
	.incbin "sql/pg/008_job_indexes.sql"
	.byte 0
	.global tg_pg_009
tg_pg_009:
	.incbin "sql/pg/009_idempotency_claim.sql"
	.byte 0
	.global tg_pg_010
tg_pg_010:
	.incbin "sql/pg/010_devices.sql"
	.byte 0
	.global tg_pg_011
tg_pg_011:
	.incbin "sql/pg/011_plan_rate_limits.sql"
	.byte 0
	.global tg_pg_012
tg_pg_012:
	.incbin "sql/pg/012_session_activity.sql"
	.byte 0
	.global tg_pg_013
tg_pg_013:
	.incbin "sql/pg/013_webhooks.sql"
	.byte 0
	.global tg_pg_014
tg_pg_014:
	.incbin "sql/pg/014_rate_buckets.sql"
	.byte 0
	.global tg_pg_015
tg_pg_015:
	.incbin "sql/pg/015_rate_take_clock.sql"
	.byte 0

	.section .note.GNU-stack,"",@progbits
