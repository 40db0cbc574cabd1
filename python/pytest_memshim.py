"""pytest_memshim - run a pytest session's temporary files in a memshim store.

    pytest -p pytest_memshim [pytest arguments...]

When the session is not already running under libmemshim.so, the plugin
starts it again (same interpreter, same arguments, same directory) with the
library preloaded, so the session and every process it starts share one
private, quota-limited in-memory store under the prefix (default /mem).
In that session TMPDIR is <prefix>/tmp and pytest's base temporary
directory (tmp_path, tmp_path_factory) is <prefix>/pytest, unless
--basetemp was given. At the end, the store's ledger (memshim-stat) is
printed in pytest's terminal summary, with a warning line when a write
was refused.

The store is configured by the MEMSHIM_* variables of memshim(7)
(MEMSHIM_QUOTA=64M pytest -p pytest_memshim ...). The library is the one
named by MEMSHIM_LIB, else the one installed with this file
(<prefix>/lib/memshim/libmemshim.so for <prefix>/lib/python3/dist-packages/
pytest_memshim.py), else the one of the source tree's build
(python/../build/libmemshim.so).

The re-execution happens at the earliest hook a -p plugin gets
(pytest_load_initial_conftests), before conftest files are imported and
before anything is collected or printed, with the same interpreter and
the same script (pytest, or python3 -m pytest); options of the interpreter
itself (-X, -W) are not carried over (PYTHONWARNINGS and the other
variables are). It is meant for sessions started from the command line:
a pytest.main() called from a larger program would be replaced by the
new session.
"""

import os
import subprocess
import sys
import tempfile

import pytest

# Set in the environment of the re-executed session: if the library is
# still not loaded there (a secure-execution program, a loader that
# ignores LD_PRELOAD), fail instead of executing again forever.
_REEXEC = "MEMSHIM_PYTEST_REEXEC"


def _prefix():
    """The store's first prefix, as the library will read it."""
    return os.environ.get("MEMSHIM_PREFIX", "/mem").split(":")[0].rstrip("/") or "/mem"


def _under_shim():
    """True when libmemshim.so is loaded in this process."""
    if os.path.isdir("/proc/self"):
        return bool(_loaded_libs())
    # No /proc: the library sets MEMSHIM_STORE_ID in the environment of
    # every process of the tree before main runs.
    return bool(os.environ.get("MEMSHIM_STORE_ID"))


def _find_lib():
    here = os.path.dirname(os.path.realpath(__file__))
    named = os.environ.get("MEMSHIM_LIB")
    candidates = [named] if named else [
        # Installed: <prefix>/lib/python3/dist-packages -> <prefix>/lib/memshim
        os.path.join(here, "..", "..", "memshim", "libmemshim.so"),
        # The source tree: python/ next to build/
        os.path.join(here, "..", "build", "libmemshim.so"),
    ]
    for c in candidates:
        if os.path.isfile(c):
            return os.path.realpath(c)
    raise pytest.UsageError(
        "pytest_memshim: libmemshim.so not found (looked at %s); set MEMSHIM_LIB "
        "to its path" % ", ".join(candidates))


def _loaded_libs():
    """The paths of libmemshim.so mapped in this process."""
    try:
        with open("/proc/self/maps") as f:
            return sorted({line.split(None, 5)[5].strip() for line in f
                           if line.rstrip().endswith("/libmemshim.so")})
    except OSError:
        return []


def _find_stat():
    """memshim-stat next to the library (a build tree), or in the bin
    directory of the prefix both were installed to (<prefix>/lib/memshim ->
    <prefix>/bin), else from PATH."""
    try:
        libs = _loaded_libs() or [_find_lib()]
    except pytest.UsageError:
        libs = []
    for lib in libs:
        d = os.path.dirname(lib)
        for c in (os.path.join(d, "memshim-stat"),
                  os.path.join(d, "..", "..", "bin", "memshim-stat")):
            if os.access(c, os.X_OK):
                return os.path.realpath(c)
    return "memshim-stat"


def _reexec(early_config):
    if os.environ.get(_REEXEC):
        raise pytest.UsageError(
            "pytest_memshim: the session was started again with LD_PRELOAD=%s "
            "but the library is not loaded" % os.environ.get("LD_PRELOAD", ""))
    lib = _find_lib()
    env = dict(os.environ)
    # In front of what is there, not instead of it.
    env["LD_PRELOAD"] = " ".join(p for p in (lib, env.get("LD_PRELOAD", "")) if p)
    # A stale id from an outer tree would join a store that may be gone.
    env.pop("MEMSHIM_STORE_ID", None)
    env[_REEXEC] = "1"
    params = early_config.invocation_params
    # Started the same way: `python3 -m pytest` puts the current directory
    # on sys.path, the pytest script does not.
    script = sys.argv[0]
    if os.path.basename(script) == "__main__.py" or not os.path.isfile(script):
        argv = [sys.executable, "-m", "pytest"]
    else:
        argv = [sys.executable, script]
    argv += list(params.args)
    os.chdir(str(params.dir))
    # pytest's capture plugin has already put fds 1 and 2 on temporary
    # files (its pytest_load_initial_conftests wraps ours): give the new
    # session the real ones.
    capman = early_config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        capman.stop_global_capturing()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    if not _under_shim():
        _reexec(early_config)
    # Under the shim: temporary files of the session and its children go
    # to the store. The directory must exist before tempfile looks at it
    # (it falls back to /tmp otherwise).
    tmp = os.environ.get("TMPDIR", "")
    if not (tmp + "/").startswith(_prefix() + "/"):
        tmp = _prefix() + "/tmp"
        os.environ["TMPDIR"] = tmp
    os.makedirs(tmp, exist_ok=True)
    # pytest's capture has already made its files, so tempfile has chosen
    # its directory, before the store had one; choose again.
    tempfile.tempdir = tmp


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # Before the tmpdir plugin's own pytest_configure reads it.
    if config.option.basetemp is None:
        config.option.basetemp = _prefix() + "/pytest"


def _stat_lines():
    try:
        r = subprocess.run([_find_stat()], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
    except OSError as e:
        return None, ["memshim-stat: %s" % e]
    return r.returncode, r.stdout.splitlines()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    tr = terminalreporter
    tr.section("memshim store")
    for lib in _loaded_libs():
        tr.write_line("library: %s" % lib)
    rc, lines = _stat_lines()
    for line in lines:
        tr.write_line(line)
    fields = dict(line.split(": ", 1) for line in lines if ": " in line)
    refused = fields.get("refused", "0")
    if refused.isdigit() and int(refused):
        tr.write_line("memshim: %d write(s) refused by the quota (largest %s bytes)"
                      % (int(refused), fields.get("largest_refused", "?")), red=True, bold=True)
    if rc not in (0, None):
        tr.write_line("memshim: memshim-stat exited with status %d" % rc, red=True)
