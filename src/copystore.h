/* copystore.h: `tollgate copy-store`, an SQLite installation moved into PostgreSQL. */
#ifndef TOLLGATE_COPYSTORE_H
#define TOLLGATE_COPYSTORE_H

/* Runs `tollgate copy-store --from PATH --to URL` (argv holds the arguments
 * after "copy-store"): migrates the PostgreSQL database at URL, then copies
 * every table of the SQLite database at PATH (one snapshot, opened read-only)
 * into it in one transaction and compares the row counts. Answers 0 when the
 * target holds the copy, 1 on failure or a target that holds data already
 * (then nothing is written), 2 on a usage error. */
int copystore_run(int argc, char **argv);

#endif
