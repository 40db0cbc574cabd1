#!/bin/sh
# Builds memshim's Debian package the way Debian users build it
# (dpkg-buildpackage -us -uc -b) in a scratch copy of this tree, checks
# them with lintian, installs them with dpkg, tries them, and purges them
# again: memshim (the library, its keeper, the tools, the man pages) and
# python3-pytest-memshim (the pytest plugin).
# Needs root (dpkg -i); installs the build tools it lacks with apt-get.
# Not part of make check: it takes a full build and changes the system's
# package database for a moment.
#
#   sh tools/deb-check.sh          (KEEP=dir: copy the .debs there)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '== %s\n' "$*"; }
fail() { printf 'deb-check: FAILED: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "run as root: dpkg -i and dpkg --purge need it"
pkgs="memshim python3-pytest-memshim"
for p in $pkgs; do
	if dpkg -s "$p" >/dev/null 2>&1; then
		fail "$p is installed already; this check would replace and purge it"
	fi
done
tools="dpkg-dev debhelper dh-python python3 gcc make libc6-dev lintian man-db groff-base"
if ! dpkg -s $tools >/dev/null 2>&1; then
	say "installing $tools"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $tools >/dev/null
fi

work=$(mktemp -d)
installed=
cleanup() {
	[ -z "$installed" ] || dpkg --purge $pkgs >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# The files git knows of, committed or not, without build directories:
# what a clean checkout of this work tree would hold.
say "copying the tree to $work/memshim"
mkdir "$work/memshim"
git -C "$top" ls-files -co --exclude-standard -z |
	(cd "$top" && xargs -0 tar -cf - --no-recursion) | tar -C "$work/memshim" -xf -

say "dpkg-buildpackage -us -uc -b"
(cd "$work/memshim" && dpkg-buildpackage -us -uc -b) > "$work/build.log" 2>&1 ||
	{ tail -n 40 "$work/build.log"; fail "dpkg-buildpackage"; }
for deb in "$work"/*.deb; do
	say "built $(basename "$deb")"
	dpkg-deb -c "$deb" | awk '{print $1, $6}'
done

say "lintian"
lintian --fail-on error,warning --display-info "$work"/*.changes || fail "lintian"
echo "lintian: no error or warning"

say "dpkg -i"
installed=yes
dpkg -i $(for p in $pkgs; do ls "$work/${p}_"*.deb; done) >/dev/null || fail "dpkg -i"

say "the installed library on a 1 MiB store"
out=$(env -u MEMSHIM_STORE_ID LD_PRELOAD=/usr/lib/memshim/libmemshim.so MEMSHIM_QUOTA=1M sh -c '
	echo written > /mem/f && cat /mem/f
	head -c 2097152 /dev/zero > /mem/big || echo refused
	memshim-stat | grep -e "^max_bytes" -e "^refused:" -e "^consistent"' 2>&1)
echo "$out"
[ "$out" = "written
head: error writing 'standard output': No space left on device
refused
max_bytes: 1048576
refused: 1
consistent: yes" ] || fail "the installed library"

say "man pages"
for m in memshim memshim-stat $( [ -x /usr/bin/memshim-run ] && echo memshim-run); do
	page=$(man -w "$m") || fail "no man page $m"
	echo "$page"
	[ -z "$(zcat "$page" | groff -man -Tutf8 -ww -z 2>&1)" ] || fail "groff warns on $page"
done

if [ -x /usr/bin/memshim-run ]; then
	say "memshim-run"
	memshim-run --version || fail "memshim-run --version"
	out=$(memshim-run --quota 1M -- sh -c 'echo run > /mem/r && cat /mem/r') || fail "memshim-run"
	[ "$out" = run ] || fail "memshim-run printed: $out"
	echo "$out"
fi

if /usr/bin/python3 -c 'import pytest' 2>/dev/null; then
	say "the pytest plugin, installed (no PYTHONPATH)"
	(cd "$top" && env -u MEMSHIM_STORE_ID -u MEMSHIM_LIB PYTHONDONTWRITEBYTECODE=1 \
		MEMSHIM_QUOTA=16M /usr/bin/python3 -m pytest -p pytest_memshim \
		-p no:cacheprovider examples/pytest) > "$work/pytest.log" 2>&1 ||
		{ cat "$work/pytest.log"; fail "pytest with the plugin"; }
	grep -e '^library: ' -e ' passed' "$work/pytest.log"
	grep -q '^library: /usr/lib/memshim/libmemshim.so$' "$work/pytest.log" ||
		fail "the plugin did not use the installed library"
else
	say "python3-pytest is not installed: the plugin is not tried"
fi

say "dpkg --purge"
dpkg --purge $pkgs >/dev/null || fail "dpkg --purge"
installed=
for f in /usr/lib/memshim /usr/bin/memshim-stat /usr/share/doc/memshim \
	/usr/lib/python3/dist-packages/pytest_memshim.py /usr/share/man/man7/memshim.7.gz; do
	[ ! -e "$f" ] || fail "$f left after purge"
done
! ls /usr/lib/python3/dist-packages/__pycache__/pytest_memshim.* 2>/dev/null ||
	fail "byte code of the plugin left after purge"
[ -z "${KEEP:-}" ] || cp "$work"/*.deb "$KEEP"/
echo "deb-check: OK"
