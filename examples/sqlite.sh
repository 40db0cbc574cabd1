#!/bin/sh
# A SQLite database in a memshim store: the sqlite3 shell creates and
# fills it in WAL mode, python3's sqlite3 module adds to it from another
# process, and when a transaction outgrows the 1 MiB quota SQLite reports
# "database or disk is full", rolls back, and the database stays intact.
#
#   sh examples/sqlite.sh    (MEMSHIM_LIB=path/to/libmemshim.so to choose
#                             the library; default: build/)
set -u
here=$(cd "$(dirname "$0")" && pwd)
LIB=${MEMSHIM_LIB:-$here/../build/libmemshim.so}
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
unset MEMSHIM_STORE_ID
env LD_PRELOAD="$LIB" MEMSHIM_QUOTA=1M PY="$PY" sh -c '
db=/mem/app.db
sqlite3 $db "pragma journal_mode=wal; create table t (v integer, pad text);
	with recursive c(x) as (select 1 union all select x + 1 from c where x < 1000)
	insert into t select x, hex(randomblob(64)) from c;" > /dev/null
$PY - $db <<PYEOF
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("insert into t values (1001, (select pad from t where v = 1))")
con.commit()
print("python: rows", con.execute("select count(*) from t").fetchone()[0])
try:
    with con:  # one transaction far bigger than the store
        con.execute("insert into t select v, hex(randomblob(4096)) from t")
except sqlite3.OperationalError as e:
    print("python:", e)
con.close()
PYEOF
sqlite3 $db "select count(*), sum(v) from t; pragma integrity_check;"
ls /mem' 2>&1
