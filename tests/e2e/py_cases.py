# tests/e2e/py_cases.py — Python scenarios on store files, run by
# tests/test_e2e_python.c as `python3 py_cases.py CASE` under the preload.
# Each case prints what the test compares; errors are printed as errno
# names so the output is the same in every locale.
import errno
import mmap
import os
import pathlib
import shutil
import sqlite3
import stat
import sys
import tempfile

# E2E_ROOT lets the same cases run on a real directory, to compare.
M = os.environ.get("E2E_ROOT", "/mem")


def err(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def tree(top):
    """Sorted relative paths under top, directories marked with /."""
    out = []
    for root, dirs, files in os.walk(top):
        rel = os.path.relpath(root, top)
        for d in dirs:
            out.append(os.path.normpath(os.path.join(rel, d)) + "/")
        for f in files:
            out.append(os.path.normpath(os.path.join(rel, f)))
    return sorted(out)


def case_open_w_r():
    with open(M + "/f", "w") as f:
        f.write("hello\n")
        f.write("world\n")
    with open(M + "/f") as f:
        print(repr(f.read()))
    with open(M + "/f", "r") as f:
        print(f.readline().strip(), f.tell())
    with open(M + "/f", "w") as f:  # truncates
        f.write("x")
    print(open(M + "/f").read())


def case_open_a():
    with open(M + "/f", "w") as f:
        f.write("one\n")
    with open(M + "/f", "a") as f:
        print(f.tell())
        f.write("two\n")
    with open(M + "/f", "a+") as f:
        f.seek(0)
        print(repr(f.read()))
        f.write("three\n")  # appends whatever the offset
    print(repr(open(M + "/f").read()))


def case_open_x():
    with open(M + "/f", "x") as f:
        f.write("new")
    try:
        open(M + "/f", "x")
    except OSError as e:
        print(type(e).__name__, err(e))
    try:
        open(M + "/nope/f", "x")
    except OSError as e:
        print(type(e).__name__, err(e))
    try:
        open(M + "/missing")
    except OSError as e:
        print(type(e).__name__, err(e))
    print(open(M + "/f").read())


def case_open_rplus():
    with open(M + "/f", "w") as f:
        f.write("abcdefgh")
    with open(M + "/f", "r+") as f:
        f.seek(2)
        f.write("XY")
        f.seek(0)
        print(f.read())
    with open(M + "/f", "w+") as f:
        f.write("fresh")
        f.seek(0)
        print(f.read())
    try:
        open(M + "/missing", "r+")
    except OSError as e:
        print(err(e))


def case_open_binary():
    data = bytes(range(256)) * 1000
    with open(M + "/b", "wb") as f:
        print(f.write(data))
    with open(M + "/b", "rb") as f:
        print(f.read() == data)
        f.seek(-3, os.SEEK_END)
        print(f.read().hex(), f.tell())
    with open(M + "/b", "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01")
    with open(M + "/b", "rb", buffering=0) as f:
        f.seek(999)
        print(f.read(4).hex())
    with open(M + "/b", "ab") as f:
        f.write(b"END")
    print(os.path.getsize(M + "/b"))
    try:
        open(M, "rb")
    except OSError as e:
        print(err(e))


def case_listdir_scandir():
    os.mkdir(M + "/d")
    for n in ("b", "a", "c"):
        with open(M + "/d/" + n, "w") as f:
            f.write(n)
    os.mkdir(M + "/d/sub")
    os.symlink("a", M + "/d/l")
    print(sorted(os.listdir(M + "/d")))
    with os.scandir(M + "/d") as it:
        for e in sorted(it, key=lambda e: e.name):
            print(e.name, e.is_file(), e.is_dir(), e.is_symlink(),
                  e.inode() == os.lstat(e.path).st_ino)
    print(os.listdir(M + "/d/sub"))
    try:
        os.listdir(M + "/d/a")
    except OSError as e:
        print(err(e))
    try:
        os.listdir(M + "/nope")
    except OSError as e:
        print(err(e))


def case_walk():
    os.makedirs(M + "/w/a/b")
    os.makedirs(M + "/w/c")
    for p in ("w/x", "w/a/y", "w/a/b/z"):
        open(M + "/" + p, "w").close()
    for root, dirs, files in sorted(os.walk(M + "/w")):
        print(root, sorted(dirs), sorted(files))
    print([r for r, d, f in os.walk(M + "/w", topdown=False)][-1])


def case_stat():
    with open(M + "/f", "w") as f:
        f.write("12345")
    os.chmod(M + "/f", 0o640)
    st = os.stat(M + "/f")
    print(st.st_size, stat.S_ISREG(st.st_mode), oct(stat.S_IMODE(st.st_mode)), st.st_nlink)
    os.mkdir(M + "/d")
    os.mkdir(M + "/d/s")
    st = os.stat(M + "/d")
    print(stat.S_ISDIR(st.st_mode), st.st_nlink)
    os.symlink("f", M + "/l")
    print(stat.S_ISLNK(os.lstat(M + "/l").st_mode), os.stat(M + "/l").st_ino == os.stat(M + "/f").st_ino)
    with open(M + "/f", "rb") as f:
        print(os.fstat(f.fileno()).st_ino == os.stat(M + "/f").st_ino, os.fstat(f.fileno()).st_size)
    print(os.path.exists(M + "/f"), os.path.isdir(M + "/d"), os.path.isfile(M + "/d"),
          os.path.islink(M + "/l"), os.path.exists(M + "/zz"))
    os.utime(M + "/f", (1000000000, 1000000000))
    print(int(os.stat(M + "/f").st_mtime))
    try:
        os.stat(M + "/f/x")
    except OSError as e:
        print(err(e))


def case_rename_replace():
    for n in ("a", "b"):
        with open(M + "/" + n, "w") as f:
            f.write(n)
    os.rename(M + "/a", M + "/c")
    print(sorted(os.listdir(M)))
    os.replace(M + "/c", M + "/b")
    print(sorted(os.listdir(M)), open(M + "/b").read())
    os.makedirs(M + "/d1/x")
    os.mkdir(M + "/d2")
    os.rename(M + "/d1", M + "/d3")
    print(sorted(os.listdir(M)), os.listdir(M + "/d3"))
    for src, dst in (("/d2", "/d3"), ("/d3", "/d3/x/in"), ("/b", "/d2"), ("/d2", "/b"), ("/nope", "/n2")):
        try:
            os.rename(M + src, M + dst)
            print("renamed", src, dst)
        except OSError as e:
            print(src, dst, err(e))


def case_unlink_makedirs_rmdir():
    os.makedirs(M + "/a/b/c")
    os.makedirs(M + "/a/b/c", exist_ok=True)
    try:
        os.makedirs(M + "/a/b/c")
    except OSError as e:
        print(err(e))
    open(M + "/a/b/f", "w").close()
    for fn, p in ((os.rmdir, "/a/b"), (os.rmdir, "/a/b/f"), (os.unlink, "/a/b/c"),
                  (os.unlink, "/a/b/zz"), (os.rmdir, "/a/b/c"), (os.unlink, "/a/b/f"),
                  (os.rmdir, "/a/b"), (os.mkdir, "/a"), (os.mkdir, "/zz/y")):
        try:
            fn(M + p)
            print(fn.__name__, p, "ok")
        except OSError as e:
            print(fn.__name__, p, err(e))
    print(os.listdir(M + "/a"))
    os.rmdir(M + "/a")
    print(os.listdir(M))


def case_shutil():
    os.makedirs(M + "/src/sub")
    with open(M + "/src/f", "wb") as f:
        f.write(os.urandom(100000))
    with open(M + "/src/sub/g", "w") as f:
        f.write("g")
    os.symlink("f", M + "/src/l")
    shutil.copy(M + "/src/f", M + "/copy")
    print(open(M + "/copy", "rb").read() == open(M + "/src/f", "rb").read())
    shutil.copy2(M + "/src/sub/g", M + "/g2")
    print(open(M + "/g2").read())
    shutil.copytree(M + "/src", M + "/dst", symlinks=True)
    print(tree(M + "/dst"), os.readlink(M + "/dst/l"))
    shutil.move(M + "/dst", M + "/moved")
    print(sorted(os.listdir(M)))
    shutil.rmtree(M + "/moved")
    print(sorted(os.listdir(M)))
    # Across the prefix: rename gives EXDEV, move copies.
    real = tempfile.mkdtemp()
    try:
        shutil.move(M + "/src", real + "/src")
        print(tree(real), os.path.exists(M + "/src"))
        shutil.move(real + "/src", M + "/back")
        print(tree(M + "/back"))
    finally:
        shutil.rmtree(real)


def case_tempfile():
    os.mkdir(M + "/t")
    fd, path = tempfile.mkstemp(dir=M + "/t", suffix=".x")
    os.write(fd, b"abc")
    os.close(fd)
    print(os.path.dirname(path), path.endswith(".x"), open(path).read(),
          oct(stat.S_IMODE(os.stat(path).st_mode)))
    with tempfile.NamedTemporaryFile(dir=M + "/t", mode="w+") as f:
        f.write("named")
        f.flush()
        print(open(f.name).read(), os.path.dirname(f.name))
        name = f.name
    print(os.path.exists(name))
    with tempfile.TemporaryDirectory(dir=M + "/t") as d:
        open(d + "/inner", "w").close()
        os.mkdir(d + "/sub")
        print(os.path.isdir(d), sorted(os.listdir(d)))
    print(os.path.exists(d))
    with tempfile.TemporaryFile(dir=M + "/t") as f:
        f.write(b"anon")
        f.seek(0)
        print(f.read())
    print(len(os.listdir(M + "/t")))


def case_tempfile_tmpdir():
    # TMPDIR in the store: gettempdir() probes it by writing a file.
    os.mkdir(M + "/tmp")
    os.environ["TMPDIR"] = M + "/tmp"
    tempfile.tempdir = None
    print(tempfile.gettempdir())
    fd, path = tempfile.mkstemp()
    os.close(fd)
    print(os.path.dirname(path))


def case_pathlib():
    p = pathlib.Path(M) / "p"
    (p / "q" / "r").mkdir(parents=True)
    print((p / "a.txt").write_text("alpha"))
    (p / "b.txt").write_text("beta")
    (p / "q" / "c.txt").write_bytes(b"gamma")
    print((p / "a.txt").read_text(), (p / "q" / "c.txt").read_bytes())
    print(sorted(x.name for x in p.glob("*.txt")))
    print(sorted(str(x.relative_to(p)) for x in p.rglob("*.txt")))
    print(sorted(x.name for x in p.iterdir()))
    print((p / "a.txt").exists(), (p / "zz").exists(), (p / "q").is_dir(), (p / "a.txt").is_file())
    (p / "a.txt").rename(p / "a2.txt")
    (p / "l").symlink_to("a2.txt")
    print((p / "l").read_text(), (p / "l").resolve())
    (p / "b.txt").unlink()
    print(sorted(x.name for x in p.iterdir()), (p / "a2.txt").stat().st_size)


def sqlite_case(mode):
    db = M + "/db/test.sqlite"
    os.mkdir(M + "/db")
    con = sqlite3.connect(db)
    print(con.execute("pragma journal_mode=" + mode).fetchone()[0])
    con.execute("create table t (i integer primary key, s text)")
    con.executemany("insert into t (s) values (?)", (("row %d" % i,) for i in range(1000)))
    con.commit()
    print(sorted(os.listdir(M + "/db")))
    con.close()
    print(sorted(os.listdir(M + "/db")))
    con = sqlite3.connect(db)
    print(con.execute("select count(*), sum(i) from t").fetchone())
    print(con.execute("select s from t where i = 500").fetchone()[0])
    con.execute("delete from t where i > 10")
    con.commit()
    print(con.execute("select count(*) from t").fetchone()[0])
    print(con.execute("pragma integrity_check").fetchone()[0])
    con.close()


def case_sqlite_delete():
    sqlite_case("delete")


def case_sqlite_wal():
    sqlite_case("wal")


def case_sqlite_full():
    # A database that outgrows the quota: "database or disk is full", and
    # the committed rows are intact.
    os.mkdir(M + "/db")
    con = sqlite3.connect(M + "/db/full.sqlite")
    con.execute("create table t (b blob)")
    con.execute("insert into t values (zeroblob(1000))")
    con.commit()
    try:
        for _ in range(10):
            con.execute("insert into t values (zeroblob(100000))")
            con.commit()
        print("never full")
    except sqlite3.Error as e:
        print(type(e).__name__, e)
        con.rollback()
    con.close()
    con = sqlite3.connect(M + "/db/full.sqlite")
    print(con.execute("pragma integrity_check").fetchone()[0], con.execute("select count(*) >= 1 from t").fetchone()[0])


def case_mmap():
    with open(M + "/m", "wb") as f:
        f.write(b"a" * 8192)
    with open(M + "/m", "r+b") as f:
        mm = mmap.mmap(f.fileno(), 0)
        print(len(mm), mm[:4])
        mm[0:5] = b"hello"
        mm[8191:8192] = b"Z"
        mm.flush()
        mm.resize(16384)
        mm[16380:16384] = b"tail"
        mm.close()
    with open(M + "/m", "rb") as f:
        data = f.read()
    print(len(data), data[:6], data[8190:8192], data[-4:], os.stat(M + "/m").st_size)
    with open(M + "/m", "rb") as f:
        ro = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        print(ro[:5], ro.find(b"tail"))
        ro.close()


def case_enospc():
    f = open(M + "/big", "wb")
    written = 0
    try:
        for _ in range(100):
            f.write(b"x" * 10000)
            f.flush()
            written += 10000
        print("never refused")
    except OSError as e:
        print(type(e).__name__, err(e), os.strerror(e.errno))
    size = os.stat(M + "/big").st_size
    print(size <= 65536, size == written)
    try:
        f.close()
    except OSError as e:
        print("close", err(e))
    os.unlink(M + "/big")
    with open(M + "/small", "w") as g:
        g.write("fits")
    print(open(M + "/small").read())


def case_enospc_os_write():
    fd = os.open(M + "/big", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"y" * 40000)
    try:
        os.write(fd, b"y" * 40000)
    except OSError as e:
        print(err(e))
    print(os.fstat(fd).st_size, os.lseek(fd, 0, os.SEEK_CUR))
    # A hole, as on tmpfs: charged nothing; allocating it is refused whole.
    os.ftruncate(fd, 1 << 20)
    print(os.fstat(fd).st_size, os.fstat(fd).st_blocks)
    try:
        os.posix_fallocate(fd, 0, 1 << 20)
    except OSError as e:
        print("posix_fallocate", err(e))
    print(os.fstat(fd).st_size, os.fstat(fd).st_blocks)
    os.close(fd)


def case_chdir_relative():
    os.makedirs(M + "/d/e")
    os.chdir(M + "/d")
    print(os.getcwd())
    with open("rel", "w") as f:
        f.write("r")
    print(open(M + "/d/rel").read(), sorted(os.listdir(".")), os.path.abspath("rel"))
    os.chdir("e")
    print(os.getcwd(), open("../rel").read())
    os.chdir("..")
    print(os.getcwd())


def case_os_links_modes():
    with open(M + "/f", "w") as f:
        f.write("0123456789")
    os.link(M + "/f", M + "/h")
    os.symlink("f", M + "/s")
    os.symlink(M + "/f", M + "/abs")
    print(os.stat(M + "/f").st_nlink, os.readlink(M + "/s"), os.readlink(M + "/abs"))
    print(os.path.realpath(M + "/s"), os.path.samefile(M + "/h", M + "/s"))
    os.chmod(M + "/f", 0o600)
    print(oct(stat.S_IMODE(os.stat(M + "/h").st_mode)), os.access(M + "/f", os.R_OK))
    os.truncate(M + "/f", 4)
    print(os.path.getsize(M + "/h"), open(M + "/s").read())
    fd = os.open(M + "/f", os.O_RDWR)
    os.ftruncate(fd, 6)
    print(os.pread(fd, 10, 0), os.pwrite(fd, b"Z", 8), os.fstat(fd).st_size)
    os.close(fd)
    for name, call in (("readlink f", lambda: os.readlink(M + "/f")),
                       ("link nope new", lambda: os.link(M + "/nope", M + "/new")),
                       ("symlink x s", lambda: os.symlink("x", M + "/s")),
                       ("link f h", lambda: os.link(M + "/f", M + "/h"))):
        try:
            call()
            print(name, "ok")
        except OSError as e:
            print(name, err(e))


def case_subprocess():
    # A child started by subprocess (vfork + close_range) reads what the
    # parent wrote, and writes into a store file given as its stdout.
    import subprocess
    with open(M + "/in", "w") as f:
        f.write("from parent\n")
    print(subprocess.run(["cat", M + "/in"], capture_output=True, text=True).stdout, end="")
    with open(M + "/out", "w") as f:
        subprocess.run(["echo", "from child"], stdout=f, check=True)
    print(open(M + "/out").read(), end="")
    subprocess.run("echo shell >> " + M + "/out", shell=True, check=True)
    print(open(M + "/out").read(), end="")
    os.system("ls " + M)


def case_sqlite_two_processes():
    # The sqlite3 program wrote the database (see the test's script);
    # this process reads it and adds to it.
    con = sqlite3.connect(M + "/cli.db")
    print(con.execute("select count(*), max(v) from t").fetchone())
    con.execute("insert into t values (1000)")
    con.commit()
    con.close()


def case_statvfs():
    st = os.statvfs(M)
    print(st.f_blocks * st.f_frsize)
    print(shutil.disk_usage(M).total)


def case_fifo():
    # os.mkfifo and os.mknod in the store: the type stat and scandir see, a
    # writer in a child process and a reader here, the kernel's ENXIO for a
    # writer without readers, and (as root) a character device.
    p = M + "/fifo"
    os.mkfifo(p, 0o600)
    st = os.stat(p)
    print(stat.S_ISFIFO(st.st_mode), oct(stat.S_IMODE(st.st_mode)), st.st_size, st.st_nlink)
    pid = os.fork()
    if pid == 0:
        with open(p, "w") as f:
            f.write("through the fifo\n")
        os._exit(0)
    with open(p) as f:
        print(f.read(), end="")
    print(os.waitpid(pid, 0)[1])
    try:
        os.open(p, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as e:
        print("writer without a reader", err(e))
    try:
        os.mkfifo(p)
    except OSError as e:
        print("mkfifo again", err(e))
    os.mknod(M + "/f2", 0o644 | stat.S_IFIFO)
    print(sorted((e.name, e.is_file(), stat.S_ISFIFO(e.stat().st_mode)) for e in os.scandir(M)))
    os.rename(M + "/f2", M + "/f3")
    os.unlink(p)
    print(sorted(os.listdir(M)), pathlib.Path(M + "/f3").is_fifo())
    if os.geteuid() == 0:
        os.mknod(M + "/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        st = os.stat(M + "/null")
        print(stat.S_ISCHR(st.st_mode), os.major(st.st_rdev), os.minor(st.st_rdev))
        with open(M + "/null", "w") as f:
            print(f.write("gone"))
        print(open(M + "/null").read() == "")
    else:
        print("True 1 3\n4\nTrue")


def case_unix_socket():
    # socket.bind in the store: a stream server and a client, the names
    # each side reports, EADDRINUSE, bind again after unlink, a client in
    # another process, and a relative name under a store cwd (which must
    # not land in the real cwd).
    import socket
    import subprocess
    import threading
    path = M + "/sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(2)
    print(srv.getsockname(), stat.S_ISSOCK(os.stat(path).st_mode))

    def serve(n):
        for _ in range(n):
            c, addr = srv.accept()
            c.sendall(c.recv(100).upper())
            print("server:", repr(addr), c.getsockname())
            c.close()

    t = threading.Thread(target=serve, args=(1,))
    t.start()
    cl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    cl.connect(path)
    cl.sendall(b"hello")
    got = (cl.recv(100), cl.getpeername())
    cl.close()
    t.join()  # the server's line first, whichever side runs first
    print(*got)
    t = threading.Thread(target=serve, args=(1,))
    t.start()
    out = subprocess.run([sys.executable, "-c",
                          "import socket; s = socket.socket(socket.AF_UNIX); "
                          "s.connect(%r); s.sendall(b'child'); print(s.recv(9), s.getpeername())" % path],
                         capture_output=True, text=True)
    t.join()
    print(out.stdout, end="")
    s2 = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s2.bind(path)
    except OSError as e:
        print("second bind", err(e))
    srv.close()
    os.unlink(path)
    s2.bind(path)
    print("bind after unlink", s2.getsockname())
    s2.close()
    os.unlink(path)
    real_cwd = os.getcwd()
    os.chdir(M)
    r = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    r.bind("rel")
    c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    c.bind(M + "/c")
    c.sendto(b"dgram", "rel")
    print(r.getsockname(), os.path.exists(M + "/rel"), r.recvfrom(10))
    print("in the real cwd:", os.path.exists(os.path.join(real_cwd, "rel")))
    r.close()
    c.close()
    print(sorted(os.listdir(M)))


if __name__ == "__main__":
    globals()["case_" + sys.argv[1]]()
