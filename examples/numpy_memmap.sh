#!/bin/sh
# numpy.memmap on a memshim store: a file in /mem mapped in the four modes
# numpy offers, with worker processes sharing one MAP_SHARED mapping.
#   w+  create the file and fill it: four workers (multiprocessing, fork)
#       each write their quarter of one mapping, the parent sees all of it
#   r+  change it in place: the change is in the file for the next reader
#   r   read only: a write to the array is refused by numpy
#   c   copy-on-write: the array changes, the file does not
# and an array bigger than the quota written to a file fails with
# ENOSPC (nothing of the refused write is stored). A memmap of that size
# would be created, as on tmpfs: numpy makes it a sparse file of one page;
# pages then filled through the mapping are the quota's blind spot (README,
# "Known limits": the report shows them as uncounted bytes).
#
#   sh examples/numpy_memmap.sh   (MEMSHIM_LIB=path/to/libmemshim.so to
#                                  choose the library; default: build/)
set -u
here=$(cd "$(dirname "$0")" && pwd)
LIB=${MEMSHIM_LIB:-$here/../build/libmemshim.so}
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3 # Debian's, with python3-numpy
unset MEMSHIM_STORE_ID
exec env LD_PRELOAD="$LIB" MEMSHIM_QUOTA=8M "$PY" - <<'PYEOF'
import errno, multiprocessing as mp, os
import numpy as np

path, n = "/mem/grid.f64", 4 * 65536  # 2 MiB of float64

def fill(k):
    # each worker maps the file itself and writes its quarter
    m = np.memmap(path, dtype=np.float64, mode="r+", shape=(n,))
    q = n // 4
    m[k * q:(k + 1) * q] = np.arange(k * q, (k + 1) * q, dtype=np.float64)
    m.flush()

w = np.memmap(path, dtype=np.float64, mode="w+", shape=(n,))
with mp.get_context("fork").Pool(4) as pool:
    pool.map(fill, range(4))
print("w+: workers wrote, parent sees sum", int(w.sum()), "expected", n * (n - 1) // 2)
del w

m = np.memmap(path, dtype=np.float64, mode="r+", shape=(n,))
m[0] = -1.0
m.flush()
del m
print("r+: file size", os.path.getsize(path), "first value", np.fromfile(path, count=1)[0])

r = np.memmap(path, dtype=np.float64, mode="r", shape=(n,))
try:
    r[1] = 5.0
    print("r: write allowed")
except ValueError as e:
    print("r: write refused:", e)
del r

c = np.memmap(path, dtype=np.float64, mode="c", shape=(n,))
c[2] = 42.0
print("c: array has", c[2], "file still has", np.fromfile(path, count=3)[2])
del c

try:
    with open("/mem/huge.f64", "wb") as f:  # 16 MiB; the store holds 8
        f.write(np.zeros(2 * 1024 * 1024).tobytes())
    print("16 MiB array: written")
except OSError as e:
    print("16 MiB array:", errno.errorcode[e.errno], "file size", os.path.getsize("/mem/huge.f64"))
PYEOF
