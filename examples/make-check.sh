#!/bin/sh
# `make check` of a small C project (cproject/) in a memshim store: the
# project is built in /mem/build (O=) and its tests' files go to TMPDIR,
# /mem/tmp; a second run with a quota too small for the tests' files
# fails a test with ENOSPC, and the suite reports it, instead of filling
# the disk. Nothing of the project is written outside the store.
#
#   sh examples/make-check.sh    (MEMSHIM_LIB=path/to/libmemshim.so to
#                                 choose the library; default: build/)
set -u
here=$(cd "$(dirname "$0")" && pwd)
LIB=${MEMSHIM_LIB:-$here/../build/libmemshim.so}
STAT=$(dirname "$LIB")/memshim-stat
[ -x "$STAT" ] || STAT=memshim-stat
# A make above this one (make check) must not lend its jobserver here.
unset MAKEFLAGS MAKELEVEL MFLAGS MEMSHIM_STORE_ID

echo "== make check with a 64 MiB quota"
env LD_PRELOAD="$LIB" MEMSHIM_QUOTA=64M STAT="$STAT" sh -c '
	mkdir -p /mem/tmp && TMPDIR=/mem/tmp make -s -C "$0" O=/mem/build check || exit
	ls /mem/build
	"$STAT" | grep -E "^(peak_bytes|refused):"' "$here/cproject"
echo "status $?"

echo "== make check with a 4 MiB quota"
env LD_PRELOAD="$LIB" MEMSHIM_QUOTA=4M STAT="$STAT" sh -c '
	mkdir -p /mem/tmp && TMPDIR=/mem/tmp make -s -C "$0" O=/mem/build check
	st=$?
	"$STAT" | grep -E "^(refused):"
	exit $st' "$here/cproject" 2>&1
echo "status $?"
