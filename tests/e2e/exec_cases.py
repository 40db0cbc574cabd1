# tests/e2e/exec_cases.py — Python starting programs on store files, run by
# tests/test_e2e_exec.c as `python3 exec_cases.py CASE` under the preload.
# subprocess forks with vfork (or clone) and calls close_range before
# exec when close_fds=True; os.posix_spawn goes through posix_spawn and
# its file actions. Each case prints what the test compares.
import errno
import os
import subprocess
import sys

XL = os.environ.get("XL", "")


def err(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def setup():
    with open("/mem/in", "w") as f:
        f.write("data\n")


def case_close_fds_true():
    setup()
    # A store file open in the parent (inheritable) must not confuse the
    # child, which closes it before exec.
    keep = open("/mem/keep", "w")
    os.set_inheritable(keep.fileno(), True)
    r = subprocess.run(["sh", "-c", "cat /mem/in > /mem/a; echo second >> /mem/a"],
                       close_fds=True)
    print(r.returncode, repr(open("/mem/a").read()))
    r = subprocess.run([XL, "child", "/mem/in", "/mem/b", "helper"], close_fds=True)
    print(r.returncode, repr(open("/mem/b").read()))
    keep.write("still mine\n")
    keep.close()
    print(repr(open("/mem/keep").read()))


def case_close_fds_false():
    setup()
    f = open("/mem/log", "w")
    f.write("parent\n")
    f.flush()
    os.set_inheritable(f.fileno(), True)
    fd = f.fileno()
    r = subprocess.run(["sh", "-c", "echo child >&%d; cat /mem/in >&%d" % (fd, fd)],
                       close_fds=False)
    f.write("parent again\n")
    f.close()
    print(r.returncode, repr(open("/mem/log").read()))


def case_stdout_file():
    setup()
    with open("/mem/x", "w") as out:
        r = subprocess.run(["cat", "/mem/in"], stdout=out)
    print(r.returncode, repr(open("/mem/x").read()), os.stat("/mem/x").st_size)
    with open("/mem/x", "a") as out:
        r = subprocess.run(["sh", "-c", "echo appended; /bin/echo external"], stdout=out,
                           close_fds=False)
    print(r.returncode, repr(open("/mem/x").read()), os.stat("/mem/x").st_size)
    with open("/mem/in") as inp:
        r = subprocess.run(["tr", "a-z", "A-Z"], stdin=inp, capture_output=True)
    print(r.returncode, repr(r.stdout))


def case_stdout_file_quota():
    # MEMSHIM_QUOTA=64K: the child's stdout is a store file; its writes
    # past the quota are refused.
    with open("/mem/c", "w") as out:
        r = subprocess.run(["head", "-c", "100000", "/dev/zero"], stdout=out,
                           stderr=subprocess.PIPE)
    s = os.stat("/mem/c").st_size
    n = len(open("/mem/c", "rb").read())
    print(r.returncode, b"No space left on device" in r.stderr)
    print("size", s <= 65536, s >= 32768, "read", n == s)


def case_posix_spawn():
    setup()
    pid = os.posix_spawn("/bin/sh", ["sh", "-c", "cat /mem/in > /mem/o"], os.environ)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), repr(open("/mem/o").read()))
    pid = os.posix_spawnp("cat", ["cat", "/mem/in"], os.environ, file_actions=[
        (os.POSIX_SPAWN_OPEN, 1, "/mem/p", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)])
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), repr(open("/mem/p").read()))
    pid = os.posix_spawn("/usr/bin/tr", ["tr", "a-z", "A-Z"], os.environ, file_actions=[
        (os.POSIX_SPAWN_OPEN, 0, "/mem/in", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, "/mem/q", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)])
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), repr(open("/mem/q").read()))


def case_env_empty():
    setup()
    r = subprocess.run(["/bin/sh", "-c", "cat /mem/in; echo child > /mem/e"], env={},
                       capture_output=True)
    print(r.returncode, repr(r.stdout), repr(r.stderr), repr(open("/mem/e").read()))
    r = subprocess.run([XL, "child", "/mem/in", "/mem/f", "tiny-env"],
                       env={"PATH": "/usr/bin:/bin"})
    print(r.returncode, repr(open("/mem/f").read()))
    pid = os.posix_spawn("/bin/cat", ["cat", "/mem/in"], {}, file_actions=[
        (os.POSIX_SPAWN_OPEN, 1, "/mem/g", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)])
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), repr(open("/mem/g").read()))


def case_store_program():
    setup()
    os.mkdir("/mem/bin")
    with open(XL, "rb") as src, open("/mem/bin/xl", "wb") as dst:
        dst.write(src.read())
    os.chmod("/mem/bin/xl", 0o755)
    r = subprocess.run(["/mem/bin/xl", "child", "/mem/in", "/mem/o", "by-path"])
    print(r.returncode, repr(open("/mem/o").read()))
    env = dict(os.environ, PATH="/mem/bin:" + os.environ["PATH"])
    r = subprocess.run(["xl", "child", "/mem/in", "/mem/o", "path-search"], env=env)
    print(r.returncode, repr(open("/mem/o").read()))
    os.chmod("/mem/bin/xl", 0o644)
    try:
        subprocess.run(["/mem/bin/xl"])
        print("ran without x permission")
    except OSError as e:
        print(type(e).__name__, err(e))


def case_cwd_arg():
    # subprocess's cwd= chdirs in the (vfork) child: the child starts in
    # the store directory, the parent's cwd does not move.
    os.makedirs("/mem/x/y")
    with open("/mem/x/f", "w") as f:
        f.write("content\n")
    before = os.getcwd()
    r = subprocess.run(["sh", "-c", "pwd; cat f; echo made > g"], cwd="/mem/x",
                       capture_output=True, text=True)
    print(r.returncode, repr(r.stdout), repr(open("/mem/x/g").read()))
    print(os.getcwd() == before)
    os.chdir("/mem/x")
    r = subprocess.run(["/bin/pwd"], capture_output=True, text=True)
    print(r.returncode, repr(r.stdout))
    r = subprocess.run(["/bin/pwd"], cwd="y", capture_output=True, text=True)
    print(r.returncode, repr(r.stdout), os.getcwd())


def case_system_popen_cwd():
    # system() and popen() go through glibc's internal spawn, which no
    # wrapper sees: the virtual cwd must still reach the shell.
    os.makedirs("/mem/x")
    with open("/mem/x/f", "w") as f:
        f.write("content\n")
    os.chdir("/mem/x")
    sys.stdout.flush()
    print(os.waitstatus_to_exitcode(os.system("pwd; cat f")))
    p = os.popen("pwd; cat f")
    print(repr(p.read()), p.close())
    p = os.popen("cat f - > /mem/x/h", "w")
    p.write("written\n")
    print(p.close(), repr(open("/mem/x/h").read()))


def case_many_children():
    # 40 children at once, each appending whole lines to one store log
    # through O_APPEND.
    procs = [subprocess.Popen(["sh", "-c", "for i in 1 2 3 4 5; do echo %02d-$i >> /mem/log; done" % n],
                              close_fds=True) for n in range(40)]
    codes = [p.wait() for p in procs]
    lines = open("/mem/log").read().split("\n")
    print(set(codes), len(lines) - 1, len(set(lines[:-1])), all(len(l) == 4 for l in lines[:-1]))


def case_vfork_fds_list():
    # A child that only exec'd (stdout a pipe) is told its store fds
    # (MEMSHIM_FDS: the inheritable /mem/keep as fd 5, "G": it takes its
    # own reference), so it need not look at each fd; one that dup2'd a
    # store file onto stdout in the vfork child is not, and looks (its
    # output still lands in the file, counted).
    setup()
    keep = os.open("/mem/keep", os.O_CREAT | os.O_WRONLY, 0o644)
    os.dup2(keep, 5)
    os.close(keep)
    def listed(env):
        v = [e for e in env.split(b"\0") if e.startswith(b"MEMSHIM_FDS=")]
        return [b":".join(e.split(b":")[:1]).decode() for e in v]
    r = subprocess.run(["cat", "/proc/self/environ"], stdout=subprocess.PIPE, pass_fds=(5,))
    print(r.returncode, listed(r.stdout))
    with open("/mem/env", "w") as f:
        r = subprocess.run(["cat", "/proc/self/environ"], stdout=f, pass_fds=(5,))
    with open("/mem/env", "rb") as f:
        env = f.read()
    print(r.returncode, listed(env), os.stat("/mem/env").st_size == len(env) > 0)


globals()["case_" + sys.argv[1]]()
