"""A pytest suite run in a memshim store with the plugin:

    MEMSHIM_QUOTA=16M PYTHONPATH=python pytest -p pytest_memshim examples/pytest

(python/ on PYTHONPATH for the source tree; an installed plugin needs
nothing). tmp_path, tmp_path_factory and TMPDIR are in the store, every
process of the session shares it, and a write past the quota fails with
ENOSPC instead of filling a disk or memory. Run by tests/test_e2e_examples.c.
"""
import errno
import os
import subprocess
import sys
import tempfile

import pytest

PREFIX = os.environ.get("MEMSHIM_PREFIX", "/mem").split(":")[0]
MiB = 1 << 20


def quota_bytes():
    """MEMSHIM_QUOTA as the library reads it (the forms this suite uses)."""
    q = os.environ.get("MEMSHIM_QUOTA", "256M").upper().rstrip("B").rstrip("I")
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(q[:-1]) * units[q[-1]] if q[-1] in units else int(q)


def used_bytes(path):
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def test_temporary_directories_are_in_the_store(tmp_path, tmp_path_factory):
    assert str(tmp_path).startswith(PREFIX + "/pytest/")
    assert str(tmp_path_factory.getbasetemp()) == PREFIX + "/pytest"
    assert tempfile.gettempdir() == PREFIX + "/tmp"
    (tmp_path / "hello.txt").write_text("hello\n")
    assert (tmp_path / "hello.txt").read_text() == "hello\n"


def test_statvfs_shows_the_quota_and_what_is_used(tmp_path):
    st = os.statvfs(tmp_path)
    assert st.f_blocks * st.f_frsize == quota_bytes()
    before = used_bytes(tmp_path)
    (tmp_path / "one-mib").write_bytes(b"m" * MiB)
    assert used_bytes(tmp_path) - before >= MiB


def test_a_write_past_the_quota_fails_with_enospc(tmp_path):
    path = tmp_path / "runaway"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    chunk = b"r" * MiB
    written = 0
    try:
        with pytest.raises(OSError) as e:
            while written <= quota_bytes():  # more than the quota can hold
                written += os.write(fd, chunk)
        assert e.value.errno == errno.ENOSPC
        # The refused write stored nothing: only whole chunks are there.
        assert os.fstat(fd).st_size == written
        assert written % MiB == 0 and 0 < written < quota_bytes()
    finally:
        os.close(fd)
        os.unlink(path)
    # The bytes came back: the same file fits again.
    path.write_bytes(chunk)


def test_child_processes_share_the_store(tmp_path):
    out = tmp_path / "from-child"
    subprocess.run([sys.executable, "-c",
                    "import sys; open(sys.argv[1], 'w').write('child\\n')", str(out)],
                   check=True)
    assert out.read_text() == "child\n"
