"""pg_schema.py: sql/pg/ builds the schema sql/ builds. Starts a throwaway
PostgreSQL 15 on a unix socket in a temporary directory, applies
sql/pg/NNN_*.sql each in one transaction, applies sql/NNN_*.sql to a fresh
SQLite file, and compares table by table: the column names in order (the
`rowid` column PostgreSQL gives sessions and jwt_keys aside), their types,
NOT NULL and defaults, the primary keys, unique constraints, CHECK counts,
foreign keys with their ON DELETE, the indexes by name with their columns,
uniqueness and predicates, and every row the migrations leave (the seeds).
Each FILE.sql given is run after the migrations, one transaction each, as a
check of its own (for example PREPAREs of statements). Prints ok/not ok
lines and "N passed, N failed"; the server is stopped on every way out.
Usage: python3 tests/pg_schema.py [FILE.sql ...]"""
import glob
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile

PG_BIN = "/usr/lib/postgresql/15/bin"
TIMEOUT = 60  # seconds for any one command
# Tables whose SQLite rowid the application's SQL names: PostgreSQL gives
# them an identity column of that name.
ROWID_TABLES = {"sessions", "jwt_keys"}
# What stands in PostgreSQL for users.email's UNIQUE COLLATE NOCASE.
NOCASE_INDEX = "users_email_nocase"
TYPES = {"INTEGER": "bigint", "TEXT": "text", "REAL": "double precision", "BLOB": "bytea"}
NULL = "\x01NULL"
SEP = "\x1f"

passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok - " + what)
    else:
        failed += 1
        print("not ok - " + what + (": " + detail if detail else ""))


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, **kw)


class Pg:
    """A PostgreSQL server of its own in tmp, reached by its socket."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.data = os.path.join(tmp, "data")
        self.as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.started = False

    def start(self):
        if self.as_pg:
            shutil.chown(self.tmp, "postgres", "postgres")
        r = run(self.as_pg + [PG_BIN + "/initdb", "-D", self.data, "-U", "tollgate", "-A",
                              "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        if r.returncode != 0:
            raise RuntimeError("initdb: " + r.stderr)
        opts = "-c listen_addresses='' -k %s -c fsync=off -c full_page_writes=off" % self.tmp
        self.started = True
        r = run(self.as_pg + [PG_BIN + "/pg_ctl", "-D", self.data, "-w", "-t", "30", "-o", opts,
                              "-l", os.path.join(self.tmp, "log"), "start"])
        if r.returncode != 0:
            raise RuntimeError("pg_ctl start: " + r.stderr + self.log())
        self.psql_ok("-d", "postgres", "-c", "CREATE DATABASE tollgate")

    def stop(self):
        if self.started:
            run(self.as_pg + [PG_BIN + "/pg_ctl", "-D", self.data, "-w", "-t", "30", "-m",
                              "immediate", "stop"])
            self.started = False

    def log(self):
        try:
            with open(os.path.join(self.tmp, "log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def psql(self, *args):
        return run(["psql", "-X", "-q", "-h", self.tmp, "-U", "tollgate", "-v",
                    "ON_ERROR_STOP=1"] + list(args))

    def psql_ok(self, *args):
        r = self.psql(*args)
        if r.returncode != 0:
            raise RuntimeError("psql %s: %s" % (" ".join(args), r.stderr))
        return r.stdout

    def rows(self, sql):
        out = self.psql_ok("-d", "tollgate", "-A", "-t", "-F", SEP, "-P", "null=" + NULL,
                           "-c", sql)
        return [tuple(None if v == NULL else v for v in line.split(SEP))
                for line in out.split("\n") if line != ""]


def sqlite_schema(db):
    """Per table: columns, primary key, uniques, checks, foreign keys; and
    the named indexes."""
    tables = {}
    for (name, sql) in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' "
                                  "AND name NOT LIKE 'sqlite_%'"):
        cols = [(c[1], TYPES.get(c[2].upper(), c[2]), bool(c[3]) or c[5] > 0,
                 c[4]) for c in db.execute("PRAGMA table_info(%s)" % name)]
        pk = [c[1] for c in sorted(db.execute("PRAGMA table_info(%s)" % name),
                                   key=lambda c: c[5]) if c[5] > 0]
        uniques = set()
        for (_, iname, unique, origin, _partial) in db.execute("PRAGMA index_list(%s)" % name):
            if origin == "u":
                uniques.add(tuple(c[2] for c in db.execute("PRAGMA index_info(%s)" % iname)))
        fks = set()
        for fk in db.execute("PRAGMA foreign_key_list(%s)" % name):
            fks.add((fk[3], fk[2], fk[4], fk[6].upper()))
        tables[name] = {"cols": cols, "pk": pk, "uniques": uniques, "fks": fks,
                        "checks": len(re.findall(r"\bCHECK\s*\(", sql, re.I))}
    indexes = {}
    for (name, table, sql) in db.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE "
                                         "type = 'index' AND sql IS NOT NULL"):
        cols = [c[2] for c in db.execute("PRAGMA index_info(%s)" % name)]
        m = re.search(r"\bWHERE\b(.*)$", sql, re.S | re.I)
        indexes[name] = {"table": table, "cols": cols,
                         "unique": bool(re.match(r"\s*CREATE\s+UNIQUE", sql, re.I)),
                         "pred": norm_pred(m.group(1)) if m else None}
    return tables, indexes


def norm_pred(p):
    """A predicate as text to compare: PostgreSQL's = ANY (ARRAY[...]) as
    IN (...), casts, parentheses and blanks dropped, lower case."""
    p = re.sub(r"(\w+) = ANY \(ARRAY\[(.*?)\]\)", r"\1 IN (\2)", p)
    p = re.sub(r"::\w+", "", p)
    return re.sub(r"[()\s]", "", p).lower()


def pg_schema(pg):
    tables = {}
    for (name,) in pg.rows("SELECT table_name FROM information_schema.tables WHERE "
                           "table_schema = 'public' AND table_type = 'BASE TABLE'"):
        cols = [(c[0], c[1], c[2] == "NO", c[3], c[4]) for c in pg.rows(
            "SELECT column_name, data_type, is_nullable, column_default, is_identity FROM "
            "information_schema.columns WHERE table_schema = 'public' AND table_name = '%s' "
            "ORDER BY ordinal_position" % name)]
        pk = [r[0] for r in pg.rows(
            "SELECT a.attname FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY k(n, i) "
            "JOIN pg_attribute a ON a.attrelid = '%s'::regclass AND a.attnum = k.n WHERE "
            "c.conrelid = '%s'::regclass AND c.contype = 'p' ORDER BY k.i" % (name, name))]
        uniques = set()
        for (oid,) in pg.rows("SELECT oid FROM pg_constraint WHERE conrelid = '%s'::regclass "
                              "AND contype = 'u'" % name):
            uniques.add(tuple(r[0] for r in pg.rows(
                "SELECT a.attname FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY "
                "k(n, i) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n "
                "WHERE c.oid = %s ORDER BY k.i" % oid)))
        fks = set()
        for (oid, deltype, ftable) in pg.rows(
                "SELECT oid, confdeltype, confrelid::regclass::text FROM pg_constraint WHERE "
                "conrelid = '%s'::regclass AND contype = 'f'" % name):
            pairs = pg.rows(
                "SELECT a.attname, f.attname FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey, c.confkey) "
                "k(n, m) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n "
                "JOIN pg_attribute f ON f.attrelid = c.confrelid AND f.attnum = k.m WHERE "
                "c.oid = %s" % oid)
            for (col, fcol) in pairs:
                fks.add((col, ftable, fcol, {"c": "CASCADE", "a": "NO ACTION", "r": "RESTRICT",
                                             "n": "SET NULL", "d": "SET DEFAULT"}[deltype]))
        (checks,) = pg.rows("SELECT count(*) FROM pg_constraint WHERE conrelid = "
                            "'%s'::regclass AND contype = 'c'" % name)[0]
        tables[name] = {"cols": cols, "pk": pk, "uniques": uniques, "fks": fks,
                        "checks": int(checks)}
    indexes = {}
    for (name, table, unique, pred, keys) in pg.rows(
            "SELECT i.relname, t.relname, x.indisunique, pg_get_expr(x.indpred, x.indrelid), "
            "(SELECT string_agg(pg_get_indexdef(x.indexrelid, k, true), ',' ORDER BY k) FROM "
            "generate_series(1, x.indnkeyatts) k) FROM pg_index x JOIN pg_class i ON i.oid = "
            "x.indexrelid JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace s ON "
            "s.oid = t.relnamespace WHERE s.nspname = 'public' AND NOT EXISTS (SELECT 1 FROM "
            "pg_constraint c WHERE c.conindid = x.indexrelid)"):
        indexes[name] = {"table": table, "cols": keys.split(","), "unique": unique == "t",
                         "pred": norm_pred(pred) if pred is not None else None}
    return tables, indexes


def sqlite_rows(db, table, cols):
    out = []
    for row in db.execute("SELECT %s FROM %s" % (", ".join(cols), table)):
        out.append(tuple(None if v is None else str(v) for v in row))
    return sorted(out, key=repr)


def compare(db, pg):
    lt, li = sqlite_schema(db)
    pt, pi = pg_schema(pg)
    check(set(lt) == set(pt), "the same tables",
          "only SQLite: %s, only PostgreSQL: %s" % (sorted(set(lt) - set(pt)),
                                                    sorted(set(pt) - set(lt))))
    for name in sorted(set(lt) & set(pt)):
        l, p = lt[name], pt[name]
        pcols = p["cols"]
        if name in ROWID_TABLES:
            rowid = [c for c in pcols if c[0] == "rowid"]
            check(len(rowid) == 1 and rowid[0][1] == "bigint" and rowid[0][2] and
                  rowid[0][4] == "YES" and ("rowid",) in p["uniques"],
                  "%s has rowid bigint NOT NULL UNIQUE GENERATED AS IDENTITY" % name,
                  repr(rowid))
            pcols = [c for c in pcols if c[0] != "rowid"]
            p["uniques"].discard(("rowid",))
        check([c[0] for c in l["cols"]] == [c[0] for c in pcols],
              "%s: the same columns in the same order" % name,
              "SQLite %s, PostgreSQL %s" % ([c[0] for c in l["cols"]], [c[0] for c in pcols]))
        bad = []
        for lc, pc in zip(l["cols"], pcols):
            ident = pc[4] == "YES"
            want_ident = l["pk"] == [lc[0]] and lc[1] == "bigint"
            if lc[0] == pc[0] and not (lc[1] == pc[1] and lc[2] == pc[2] and
                                       ident == want_ident and (lc[3] or None) == (pc[3] or None)):
                bad.append("SQLite %r, PostgreSQL %r" % (lc, pc))
        check(not bad, "%s: column types, NOT NULL, defaults and identity" % name, "; ".join(bad))
        check(l["pk"] == p["pk"], "%s: the same primary key" % name,
              "%s vs %s" % (l["pk"], p["pk"]))
        luniq = set(l["uniques"])
        if name == "users":
            luniq.discard(("email",))
            check(NOCASE_INDEX in pi and pi[NOCASE_INDEX]["unique"] and
                  pi[NOCASE_INDEX]["cols"] == ["nocase(email)"],
                  "users: email unique ASCII case-insensitively (%s)" % NOCASE_INDEX)
        check(luniq == p["uniques"], "%s: the same unique constraints" % name,
              "%s vs %s" % (sorted(luniq), sorted(p["uniques"])))
        check(l["checks"] == p["checks"], "%s: as many CHECK constraints" % name,
              "%d vs %d" % (l["checks"], p["checks"]))
        check(l["fks"] == p["fks"], "%s: the same foreign keys" % name,
              "%s vs %s" % (sorted(l["fks"]), sorted(p["fks"])))
        cols = [c[0] for c in l["cols"]]
        want = sqlite_rows(db, name, cols)
        got = sorted(pg.rows("SELECT %s FROM %s" % (", ".join(cols), name)), key=repr)
        check(want == got, "%s: the same %d rows" % (name, len(want)),
              "SQLite %s, PostgreSQL %s" % (want, got))
    pnames = set(pi) - {NOCASE_INDEX}
    check(set(li) == pnames, "the same indexes by name",
          "only SQLite: %s, only PostgreSQL: %s" % (sorted(set(li) - pnames),
                                                    sorted(pnames - set(li))))
    for name in sorted(set(li) & pnames):
        l, p = li[name], pi[name]
        pcols = p["cols"]
        # SQLite ends every index of a rowid table with the rowid.
        if p["table"] in ROWID_TABLES and pcols[-1:] == ["rowid"] and pcols != l["cols"]:
            pcols = pcols[:-1]
        check(l["table"] == p["table"] and l["cols"] == pcols and l["unique"] == p["unique"] and
              l["pred"] == p["pred"], "index %s: the same table, columns, uniqueness, "
              "predicate" % name, "SQLite %r, PostgreSQL %r" % (l, p))


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    lite = sorted(glob.glob(os.path.join(root, "sql", "[0-9]*.sql")))
    pgs = sorted(glob.glob(os.path.join(root, "sql", "pg", "[0-9]*.sql")))
    check([os.path.basename(f) for f in lite] == [os.path.basename(f) for f in pgs],
          "sql/pg/ has a file of the same name for each of sql/")
    tmp = tempfile.mkdtemp(prefix="tg-pg-")
    os.chmod(tmp, 0o755)
    pg = Pg(tmp)

    def on_signal(signum, frame):
        raise SystemExit("signal %d" % signum)

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(s, on_signal)
    signal.alarm(300)
    try:
        pg.start()
        for f in pgs:
            r = pg.psql("-d", "tollgate", "--single-transaction", "-f", f)
            check(r.returncode == 0 and "ERROR" not in r.stderr,
                  "PostgreSQL applies %s" % os.path.relpath(f, root), r.stderr.strip())
        db = sqlite3.connect(os.path.join(tmp, "tollgate.db"))
        for f in lite:
            with open(f) as fh:
                db.executescript("BEGIN;" + fh.read() + ";COMMIT;")
        compare(db, pg)
        db.close()
        for f in sys.argv[1:]:
            r = pg.psql("-d", "tollgate", "--single-transaction", "-f", f)
            check(r.returncode == 0 and "ERROR" not in r.stderr,
                  "PostgreSQL runs %s" % f, r.stderr.strip())
    except (RuntimeError, subprocess.TimeoutExpired, sqlite3.Error) as e:
        check(False, "the run", str(e))
    finally:
        signal.alarm(0)
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
