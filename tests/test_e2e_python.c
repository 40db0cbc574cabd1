/* End-to-end: python3 on store files. Each scenario is a function of
 * tests/e2e/py_cases.py run under the preload as one process tree; the
 * expected outputs are what the same cases print on a real tmpfs
 * directory (E2E_ROOT=<dir>), except where the store's quota is stricter
 * than tmpfs (a refused write stores nothing). */
#include "e2e/e2e.h"

static void run_case(const char *name, const char *env, const char *want)
{
	char script[512];
	snprintf(script, sizeof(script), "$PY $E2E/py_cases.py %s", name);
	E2E_EXPECT(env, script, want);
}

#define CASE(name, env, want) \
	Test(e2e_python, name) { run_case(#name, env, want); }

CASE(open_w_r, "", "'hello\\nworld\\n'\nhello 6\nx\n")
CASE(open_a, "", "4\n'one\\ntwo\\n'\n'one\\ntwo\\nthree\\n'\n")
CASE(open_x, "", "FileExistsError EEXIST\nFileNotFoundError ENOENT\nFileNotFoundError ENOENT\nnew\n")
CASE(open_rplus, "", "abXYefgh\nfresh\nENOENT\n")
CASE(open_binary, "", "256000\nTrue\nfdfeff 256000\ne70001ea\n256003\nEISDIR\n")
CASE(listdir_scandir, "",
     "['a', 'b', 'c', 'l', 'sub']\n"
     "a True False False True\n"
     "b True False False True\n"
     "c True False False True\n"
     "l True False True True\n"
     "sub False True False True\n"
     "[]\nENOTDIR\nENOENT\n")
CASE(walk, "",
     "/mem/w ['a', 'c'] ['x']\n"
     "/mem/w/a ['b'] ['y']\n"
     "/mem/w/a/b [] ['z']\n"
     "/mem/w/c [] []\n"
     "/mem/w\n")
CASE(stat, "",
     "5 True 0o640 1\nTrue 3\nTrue True\nTrue 5\nTrue True False True False\n1000000000\nENOTDIR\n")
CASE(rename_replace, "",
     "['b', 'c']\n['b'] a\n['b', 'd2', 'd3'] ['x']\n"
     "/d2 /d3 ENOTEMPTY\n/d3 /d3/x/in EINVAL\n/b /d2 EISDIR\n/d2 /b ENOTDIR\n/nope /n2 ENOENT\n")
CASE(unlink_makedirs_rmdir, "",
     "EEXIST\n"
     "rmdir /a/b ENOTEMPTY\nrmdir /a/b/f ENOTDIR\nunlink /a/b/c EISDIR\nunlink /a/b/zz ENOENT\n"
     "rmdir /a/b/c ok\nunlink /a/b/f ok\nrmdir /a/b ok\nmkdir /a EEXIST\nmkdir /zz/y ENOENT\n"
     "[]\n[]\n")
CASE(shutil, "",
     "True\ng\n['f', 'l', 'sub/', 'sub/g'] f\n"
     "['copy', 'g2', 'moved', 'src']\n['copy', 'g2', 'src']\n"
     "['src/', 'src/f', 'src/l', 'src/sub/', 'src/sub/g'] False\n"
     "['f', 'l', 'sub/', 'sub/g']\n")
CASE(tempfile, "",
     "/mem/t True abc 0o600\nnamed /mem/t\nFalse\nTrue ['inner', 'sub']\nFalse\nb'anon'\n1\n")
CASE(tempfile_tmpdir, "", "/mem/tmp\n/mem/tmp\n")
CASE(pathlib, "",
     "5\nalpha b'gamma'\n['a.txt', 'b.txt']\n['a.txt', 'b.txt', 'q/c.txt']\n['a.txt', 'b.txt', 'q']\n"
     "True False True True\nalpha /mem/p/a2.txt\n['a2.txt', 'l', 'q'] 5\n")
CASE(sqlite_delete, "",
     "delete\n['test.sqlite']\n['test.sqlite']\n(1000, 500500)\nrow 499\n10\nok\n")
CASE(sqlite_wal, "",
     "wal\n['test.sqlite', 'test.sqlite-shm', 'test.sqlite-wal']\n['test.sqlite']\n"
     "(1000, 500500)\nrow 499\n10\nok\n")
CASE(sqlite_full, "MEMSHIM_QUOTA=256K", "OperationalError database or disk is full\nok 1\n")
CASE(mmap, "",
     "8192 b'aaaa'\n16384 b'helloa' b'aZ' b'tail' 16384\nb'hello' 16380\n")
CASE(chdir_relative, "",
     "/mem/d\nr ['e', 'rel'] /mem/d/rel\n/mem/d/e r\n/mem/d\n")
CASE(statvfs, "MEMSHIM_QUOTA=8M", "8388608\n8388608\n")

/* f.write + f.flush past a 64K quota raise OSError(ENOSPC); every
 * write that was refused stored nothing (tmpfs would keep a partial
 * write), and the store is usable after the file is removed. */
Test(e2e_python, enospc_from_write_and_flush)
{
	char out[8192];
	int st = e2e_sh("MEMSHIM_QUOTA=64K", "$PY $E2E/py_cases.py enospc", out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert(strncmp(out, "OSError ENOSPC No space left on device\nTrue True\n", 49) == 0, "%s", out);
	cr_assert_not_null(strstr(out, "fits\n"), "%s", out);
}

CASE(enospc_os_write, "MEMSHIM_QUOTA=64K",
     "ENOSPC\n40000 40000\n1048576 80\nposix_fallocate ENOSPC\n1048576 80\n")

CASE(os_links_modes, "",
     "2 f /mem/f\n/mem/f True\n0o600 True\n4 0123\nb'0123\\x00\\x00' 1 9\n"
     "readlink f EINVAL\nlink nope new ENOENT\nsymlink x s EEXIST\nlink f h EEXIST\n")
CASE(subprocess, "", "from parent\nfrom child\nfrom child\nshell\nin\nout\n")
/* os.mkfifo, os.mknod and socket.bind in the store (the same lines as on
 * a tmpfs directory, with its path replaced by /mem). */
CASE(fifo, "",
     "True 0o600 0 1\nthrough the fifo\n0\nwriter without a reader ENXIO\nmkfifo again EEXIST\n"
     "[('f2', False, True), ('fifo', False, True)]\n['f3'] True\nTrue 1 3\n4\nTrue\n")
CASE(unix_socket, "",
     "/mem/sock True\nserver: '' /mem/sock\nb'HELLO' /mem/sock\nserver: '' /mem/sock\n"
     "b'CHILD' /mem/sock\nsecond bind EADDRINUSE\nbind after unlink /mem/sock\n"
     "rel True (b'dgram', '/mem/c')\nin the real cwd: False\n['c', 'rel']\n")

/* Two programs, one database: the sqlite3 shell creates and fills it,
 * python reads and writes it, the shell reads the result. */
Test(e2e_python, sqlite_cli_then_python)
{
	E2E_EXPECT("",
		   "sqlite3 /mem/cli.db \"pragma journal_mode=wal; create table t (v integer); "
		   "with recursive c(x) as (select 1 union all select x + 1 from c where x < 500) "
		   "insert into t select x from c;\" > /dev/null && $PY $E2E/py_cases.py sqlite_two_processes && "
		   "sqlite3 /mem/cli.db \"select count(*), sum(v) from t; pragma integrity_check;\"",
		   "(500, 500)\n501|126250\nok\n");
}
