#!/bin/sh
# Configures, builds and runs examples/ctest with CTest in a throwaway
# build directory; every test runs in a memshim store of its own.
#
#   sh examples/ctest.sh    (MEMSHIM_LIB=path/to/libmemshim.so to choose
#                            the library; default: build/)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
LIB=${MEMSHIM_LIB:-$here/../build/libmemshim.so}
unset MAKEFLAGS MAKELEVEL MFLAGS MEMSHIM_STORE_ID
b=$(mktemp -d)
trap 'rm -rf "$b"' EXIT
cmake -S "$here/ctest" -B "$b" -DMEMSHIM_LIB="$LIB" > "$b/configure.log" || { cat "$b/configure.log"; exit 1; }
cmake --build "$b" > "$b/build.log" || { cat "$b/build.log"; exit 1; }
cd "$b" && ctest --output-on-failure
