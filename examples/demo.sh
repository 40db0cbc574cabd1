#!/bin/sh
# memshim's main job on its built-in defaults (256 MiB quota, prefix /mem):
# ordinary programs write into /mem, the quota refuses a write before it
# is stored, and every process of the tree sees the same files.
# Run by `make demo`, or: LD_PRELOAD=build/libmemshim.so sh examples/demo.sh
# (B=dir: the build whose memshim-stat to run; default build/).
set -u
B=${B:-$(dirname "$0")/../build}
echo "== a shell, coreutils and python share /mem"
mkdir -p /mem/demo
echo "hello from $(basename "$0")" > /mem/demo/hello.txt
python3 -c 'print(open("/mem/demo/hello.txt").read().strip(), "(read by python)")'
echo "== dd writes 300 MiB into a 256 MiB store"
dd if=/dev/zero of=/mem/demo/big bs=1M count=300 2> /tmp/memshim-demo.$$
echo "   dd exited with status $?:"
sed 's/^/   /' /tmp/memshim-demo.$$
rm -f /tmp/memshim-demo.$$
ls -l /mem/demo
df -h /mem
echo "== the ledger, as the store keeps it"
"$B/memshim-stat" | grep -E '^(max|used|peak)_bytes|^refused|^largest|^file:|^consistent'
rm -r /mem/demo
echo "== after rm -r: $(df --output=used -h /mem | tail -n 1 | tr -d ' ') used"
