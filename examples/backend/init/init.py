#!/usr/bin/python3
"""init/init.py -- makes the notes example's database: loads sql/schema.sql into an empty one, applies the migrations of sql/migrations/ not yet applied, in number order, and with --sample loads init/sample.sql.

Usage: init/init.py [--dsn DSN] [--schema NAME] [--sample]
  --dsn DSN      a libpq connection string (default: $BACKEND_DSN, else
                 "dbname=notes")
  --schema NAME  work in the PostgreSQL schema NAME (created when missing)
                 instead of the user's default one; kiln then needs
                 options='-c search_path=NAME' in its [postgres] dsn
  --sample       load the sample users (alice, bob, admin) and notes

It runs psql (Debian's postgresql-client), each step in one transaction,
and stops at the first error with psql's message.  Running it again applies
only what is new: the migrations it applied are rows of schema_migrations.
"""

import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SQL = os.path.join(os.path.dirname(HERE), "sql")
MIGRATION = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def psql(dsn, schema, *args):
    """Runs psql with `args` on the database; its output (stops on error)."""
    env = dict(os.environ)
    if schema:
        env["PGOPTIONS"] = (env.get("PGOPTIONS", "") + " -c search_path=%s" % schema).strip()
    r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        "--single-transaction", "-d", dsn] + list(args),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    if r.returncode != 0:
        sys.exit("init.py: psql %s failed:\n%s" % (" ".join(args), r.stderr.strip()))
    return r.stdout.strip()


def migrations():
    """[(number, path)] of sql/migrations/, in order; a misnamed file is an error."""
    out = []
    for name in sorted(os.listdir(os.path.join(SQL, "migrations"))):
        m = MIGRATION.match(name)
        if not m:
            sys.exit("init.py: sql/migrations/%s: expected NNN_name.sql" % name)
        out.append((int(m.group(1)), os.path.join(SQL, "migrations", name)))
    numbers = [n for n, _ in out]
    if len(set(numbers)) != len(numbers):
        sys.exit("init.py: sql/migrations/: two migrations share a number")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", default=os.environ.get("BACKEND_DSN", "dbname=notes"))
    ap.add_argument("--schema")
    ap.add_argument("--sample", action="store_true")
    a = ap.parse_args()
    if a.schema and not re.match(r"^[a-z_][a-z0-9_]{0,62}$", a.schema):
        sys.exit("init.py: --schema %s: expected a lower-case SQL name" % a.schema)
    if a.schema:
        psql(a.dsn, None, "-c", "CREATE SCHEMA IF NOT EXISTS %s" % a.schema)
    if psql(a.dsn, a.schema, "-c", "SELECT to_regclass('schema_migrations') IS NULL") == "t":
        psql(a.dsn, a.schema, "-f", os.path.join(SQL, "schema.sql"))
        print("init.py: loaded sql/schema.sql")
    applied = set(int(v) for v in
                  psql(a.dsn, a.schema, "-c", "SELECT version FROM schema_migrations").split())
    for number, path in migrations():
        if number in applied:
            continue
        psql(a.dsn, a.schema, "-f", path,
             "-c", "INSERT INTO schema_migrations (version) VALUES (%d)" % number)
        print("init.py: applied sql/migrations/%s" % os.path.basename(path))
    if a.sample:
        psql(a.dsn, a.schema, "-f", os.path.join(HERE, "sample.sql"))
        print("init.py: loaded init/sample.sql")


if __name__ == "__main__":
    main()
