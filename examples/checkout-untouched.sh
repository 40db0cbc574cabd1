#!/bin/sh
# A project's own test run, in place over its checkout, that leaves the
# checkout byte-identical: memshim-run --lower lays the store over the
# directory at its own path, so the run reads the real files and everything
# it writes (objects, logs, test files, deletions) lives in the store; the
# summary says what it changed. Every file is hashed before and after.
#
#   sh examples/checkout-untouched.sh [DIR [COMMAND...]]
#
# Default: examples/cproject and `make check` (its build goes to build/ in
# the checkout, as a plain `make check` does).
set -u
here=$(cd "$(dirname "$0")" && pwd)
run=${MEMSHIM_RUN:-$here/../build/memshim-run}
dir=$(cd "${1:-$here/cproject}" && pwd) || exit 2
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- make check

# names, types, modes, sizes, times, link targets, and every file's bytes
fingerprint() {
	(cd "$dir" && find . -printf '%p %y %m %s %T@ %l\n' | LC_ALL=C sort &&
		find . -type f -exec sha256sum {} + | LC_ALL=C sort) | sha256sum | cut -c1-16
}
before=$(fingerprint)
files=$(find "$dir" -type f | wc -l)
echo "== $* over $dir ($files files, fingerprint $before)"
cd "$dir" && "$run" --lower . -- "$@"
status=$?
after=$(fingerprint)
if [ "$before" = "$after" ]; then
	echo "== checkout untouched: the same $files files, fingerprint $after; status $status"
else
	echo "== THE CHECKOUT CHANGED: fingerprint $before, now $after"
	exit 1
fi
exit $status
