/* backup.h: `tollgate backup`, a consistent copy of the live database. */
#ifndef TOLLGATE_BACKUP_H
#define TOLLGATE_BACKUP_H

/* Runs `tollgate backup PATH` (argv holds the arguments after "backup") on
 * cfg.db_path and answers the exit status: 0 when PATH holds a copy that
 * passed PRAGMA integrity_check, 1 on failure (PATH is then untouched), 2 on
 * a usage error. Safe while `tollgate serve` is writing to the database. */
int backup_run(int argc, char **argv);

#endif
