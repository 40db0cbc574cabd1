# memshim — build, test, sanitizer and benchmark targets.
#
#   make            libmemshim.so, the keeper and the tools (build/)
#   make check      every test (unit, stress, end-to-end)
#   make asan       the same tests built with ASan+UBSan (build-asan/)
#   make tsan       the same tests built with TSan (build-tsan/)
#   make install    PREFIX=/usr/local DESTDIR= (and make uninstall)
#   make bench      the benchmark: store under the shim against tmpfs

CC      ?= gcc
SAN     ?=
B       ?= build
CFLAGS  ?= -O2 -g
# Flags the code needs whatever CFLAGS a caller gives (a caller's CPPFLAGS
# and LDFLAGS, such as dpkg-buildflags' hardening, are added too).
# initial-exec TLS: the library is loaded at start (LD_PRELOAD), never by
# dlopen, so its thread-locals need no __tls_get_addr call per access.
MSFLAGS  = -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -fPIC \
           -fvisibility=hidden -ftls-model=initial-exec -D_GNU_SOURCE -Icore $(SAN)
LDFLAGS += $(SAN)
LIBS     = -lpthread

CORE_SRC  = $(wildcard core/*.c)
CORE_OBJ  = $(CORE_SRC:%.c=$(B)/%.o)
KEEP_SRC  = $(wildcard keeper/*.c)
KEEP_OBJ  = $(KEEP_SRC:%.c=$(B)/%.o)
SHIM_SRC  = $(wildcard shim/*.c)
SHIM_OBJ  = $(SHIM_SRC:%.c=$(B)/%.o)
TEST_SRC  = $(wildcard tests/test_*.c)
TEST_BIN  = $(TEST_SRC:tests/%.c=$(B)/tests/%)
HELP_SRC  = $(wildcard tests/helpers/*.c)
HELP_BIN  = $(HELP_SRC:tests/helpers/%.c=$(B)/tests/helpers/%)
TOOL_SRC  = $(wildcard tools/*.c)
TOOL_BIN  = $(TOOL_SRC:tools/%.c=$(B)/%)
SA_SRC    = $(wildcard tests/standalone/*.c)
SA_BIN    = $(SA_SRC:tests/standalone/%.c=$(B)/tests/standalone/%)
EX_SRC    = $(wildcard examples/*.c)
EX_BIN    = $(EX_SRC:examples/%.c=$(B)/examples/%)
# What a test program may include: tests/*.h and the headers of tests/*/.
TEST_H    = $(wildcard tests/*.h tests/*/*.h)
# The objects of a run whose sources are tests/<run>/*.c, linked into both
# its Criterion test tests/test_<run>.c and tests/standalone/<run>_main.c.
run_obj   = $(patsubst %.c,$(B)/%.o,$(wildcard tests/$(1)/*.c))

all: $(B)/libmemshim.so $(TOOL_BIN) $(EX_BIN)

$(B)/%.o: %.c $(wildcard core/*.h keeper/*.h shim/*.h shim/*.def)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(MSFLAGS) -Ishim -c $< -o $@

$(B)/libmemshim-core.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The keeper's server: linked into the keeper program, never into the
# library (tests/test_exports.c checks).
$(B)/libmemshim-keeper.a: $(KEEP_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The exports are exactly the W(...) names of the real-function lists.
$(B)/memshim.map: $(wildcard shim/*.def)
	@mkdir -p $(dir $@)
	@names=$$(cat shim/*.def | sed -n 's/^W([^,]*, *\([A-Za-z0-9_]*\),.*/    \1;/p' | sort -u); \
	{ echo '{'; [ -z "$$names" ] || { echo '  global:'; echo "$$names"; }; \
	  echo '  local: *;'; echo '};'; } > $@

# What every process runs at start is linked first, then what its first
# store call runs (the attach, a path walk, a re-open, the close), so that
# their code shares as few pages as it can: each page a new process
# touches first is a page fault, 10-20 us on a virtual machine (what they
# write: MS_STARTUP, shim/startup.ld). -fini names a symbol that does not
# exist, so the library has no DT_FINI: crti's empty _fini sat on the last
# page of our code, a page fault at every exit (.fini_array still runs).
START_OBJ = $(addprefix $(B)/,shim/init.o shim/carry.o shim/probe.o shim/fdtab.o shim/real.o \
	    core/config.o core/fault.o shim/route.o \
	    shim/fd.o shim/open.o shim/cred.o core/store.o core/perm.o core/memfd.o core/ns.o \
	    core/arena.o core/mapio.o shim/lend.o)
$(B)/libmemshim.so: $(SHIM_OBJ) $(B)/libmemshim-core.a $(B)/memshim.map shim/startup.ld Makefile
	$(CC) -shared $(LDFLAGS) -Wl,--version-script=$(B)/memshim.map -Wl,-z,defs \
	    -Wl,-T,shim/startup.ld -Wl,-fini=ms_no_fini \
	    -o $@ $(START_OBJ) $(filter-out $(START_OBJ),$(SHIM_OBJ)) $(B)/libmemshim-core.a \
	    $(LIBS) -ldl

$(B)/%: tools/%.c $(B)/libmemshim-keeper.a $(B)/libmemshim-core.a
	$(CC) $(CPPFLAGS) $(CFLAGS) $(MSFLAGS) -Ikeeper $(LDFLAGS) -fPIE -pie -o $@ $< \
	    $(B)/libmemshim-keeper.a $(B)/libmemshim-core.a $(LIBS)

$(B)/examples/%: examples/%.c $(B)/libmemshim-core.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(MSFLAGS) $(LDFLAGS) -o $@ $< $(B)/libmemshim-core.a $(LIBS)

$(B)/tests/helpers/%: tests/helpers/%.c $(B)/libmemshim-core.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(MSFLAGS) -Itests $(LDFLAGS) -o $@ $< $(B)/libmemshim-core.a $(LIBS)

$(B)/tests/%.o: tests/%.c $(TEST_H) $(wildcard core/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(MSFLAGS) -Itests -c $< -o $@

$(B)/tests/test_chaos $(B)/tests/standalone/chaos_main: $(call run_obj,chaos)
$(B)/tests/test_stress $(B)/tests/standalone/stress_main: $(call run_obj,stress)

$(B)/tests/standalone/%: tests/standalone/%.c $(TEST_H) $(B)/libmemshim-core.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(MSFLAGS) -Itests $(LDFLAGS) -o $@ $< $(filter %.o,$^) \
	    $(B)/libmemshim-core.a $(LIBS)

$(B)/tests/%: tests/%.c $(TEST_H) $(B)/libmemshim-core.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(MSFLAGS) -Itests $(LDFLAGS) -o $@ $< $(filter %.o,$^) \
	    $(B)/libmemshim-core.a -lcriterion $(LIBS)

# The benchmark links libc alone, like the programs it measures.
$(B)/bench/bench: bench/bench.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(MSFLAGS) $(LDFLAGS) -o $@ $<

# Tests find the keeper and helpers through these; a sanitizer runtime
# that must come first in a preload goes in PRELOAD_FIRST.
TEST_ENV = MEMSHIM_TEST_BUILD=$(abspath $(B)) MEMSHIM_LOG=error \
           MEMSHIM_TEST_PRELOAD_FIRST=$(PRELOAD_FIRST)

# Every test program runs, even after a failure; the failed ones are named
# at the end, each with its failure lines again (a CI log often shows only
# its last lines). Each program's output is kept in $(B)/log/.
RUN_BIN ?= $(TEST_BIN)
FAIL_LINES = grep -E '\[(----|FAIL|ERR|WARN)\]|chaos: .*(FAIL|fail)|chaos:   |Sanitizer|Timed out' $(1) | \
	     grep -v 'Synthesis' | head -n 20
check: all $(TEST_BIN) $(HELP_BIN) $(SA_BIN) $(B)/bench/bench
	@mkdir -p $(B)/log; failed=; for t in $(RUN_BIN); do \
	    log=$(B)/log/$$(basename $$t); echo "== $$t"; \
	    { $(TEST_ENV) $$t --jobs 1 $(TESTFLAGS) 2>&1; echo $$? >$$log.rc; } | tee $$log; \
	    [ "$$(cat $$log.rc)" = 0 ] || failed="$$failed $$t"; done; \
	for t in $$failed; do echo "== failed: $$t"; $(call FAIL_LINES,$(B)/log/$$(basename $$t)); done; \
	if [ -n "$$failed" ]; then echo "FAILED:$$failed"; exit 1; fi; \
	echo "all test programs passed"

# Under ASan every preloaded program runs on ASan's allocator, which aborts
# third-party programs for requests glibc accepts (dd's aligned_alloc of a
# size that is not a multiple of the alignment): the end-to-end suites of
# coreutils, shells and python run in the plain build; the ASan build runs
# the unit, shim, keeper and stress tests, whose programs are ours. The
# fork-with-threads test (test_fork) runs in the plain build only too: GCC
# 12's ASan allocator is not fork-safe (a child forked while another thread
# is in malloc waits on its lock forever).
asan:
	$(MAKE) B=build-asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    CFLAGS="-O1 -g" PRELOAD_FIRST=$$($(CC) -print-file-name=libasan.so) \
	    RUN_BIN="$(filter-out build-asan/tests/test_e2e_% build-asan/tests/test_fork,$(patsubst build/%,build-asan/%,$(TEST_BIN)))" check

# Criterion cannot start under ThreadSanitizer (Criterion issue #274), so the
# TSan build runs the standalone programs: the multi-process, multi-thread
# stress of the store.
tsan:
	$(MAKE) B=build-tsan SAN="-fsanitize=thread" CFLAGS="-O1 -g" tsan-run

tsan-run: all $(SA_BIN)
	@set -e; for t in $(SA_BIN); do \
	    echo "== $$t"; TSAN_OPTIONS=halt_on_error=1 $(TEST_ENV) $$t; done
	@echo "== $(B)/tests/standalone/chaos_main, hard fd limit 100 (memfds in holders)"; \
	    ulimit -n 100 && ulimit -Hn 100 && export MEMSHIM_CHAOS_KILLS=1000 TSAN_OPTIONS=halt_on_error=1 && \
	    $(TEST_ENV) $(B)/tests/standalone/chaos_main

# Debian packages the build and the tests need (root, or sudo).
DEPS = gcc make libc6-dev binutils libcriterion-dev uthash-dev \
       python3 sqlite3 tar gzip findutils mawk dash bash coreutils nodejs attr \
       python3-pytest python3-numpy cmake groff-base git
deps:
	@if ! dpkg -s $(DEPS) >/dev/null 2>&1; then \
	    s=; [ "$$(id -u)" -eq 0 ] || s=sudo; \
	    $$s apt-get update && $$s apt-get install -y --no-install-recommends $(DEPS); \
	fi

# The store's main job on its built-in defaults: real programs under the
# preload.
demo: all
	@env -u MEMSHIM_STORE_ID B=$(abspath $(B)) $(B)/memshim-run --chart $(B)/memshim-demo.svg -- sh examples/demo.sh
	@echo "== the chart of the run: $(B)/memshim-demo.svg (open it in a browser)"

# Installation. The library and the keeper stay together in a directory
# of their own (the library starts the keeper found next to itself, and it
# is a preload object, not a library to link against: no soname, no
# ldconfig); the tools go to bin, each with its man page; the pytest plugin
# goes where Debian's python3 looks. Every program of tools/ but the keeper
# is a tool, so memshim-run is installed as soon as tools/memshim-run.c is
# there. Uninstall removes the same list, computed from the sources, so it
# works without a build.
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR   = $(PREFIX)/bin
PKGLIB   = $(PREFIX)/lib/memshim
MANDIR   = $(PREFIX)/share/man
DOCDIR   = $(PREFIX)/share/doc/memshim
PYDIR    = $(PREFIX)/lib/python3/dist-packages
TOOLS    = $(filter-out memshim-keeper,$(TOOL_SRC:tools/%.c=%))
DOCS     = README.md doc/config.md doc/ARCHITECTURE.md

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PKGLIB) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(DOCDIR) $(DESTDIR)$(PYDIR)
	install -m 644 $(B)/libmemshim.so $(DESTDIR)$(PKGLIB)/libmemshim.so
	install -m 755 $(B)/memshim-keeper $(DESTDIR)$(PKGLIB)/memshim-keeper
	install -m 755 $(TOOLS:%=$(B)/%) $(DESTDIR)$(BINDIR)/
	install -m 644 $(TOOLS:%=doc/man/%.1) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 doc/man/memshim.7 $(DESTDIR)$(MANDIR)/man7/
	install -m 644 $(DOCS) $(DESTDIR)$(DOCDIR)/
	install -m 644 python/pytest_memshim.py $(DESTDIR)$(PYDIR)/

uninstall:
	rm -f $(DESTDIR)$(PKGLIB)/libmemshim.so $(DESTDIR)$(PKGLIB)/memshim-keeper \
	    $(TOOLS:%=$(DESTDIR)$(BINDIR)/%) $(TOOLS:%=$(DESTDIR)$(MANDIR)/man1/%.1) \
	    $(DESTDIR)$(MANDIR)/man7/memshim.7 $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOCS))) \
	    $(DESTDIR)$(PYDIR)/pytest_memshim.py
	rm -f $(DESTDIR)$(PYDIR)/__pycache__/pytest_memshim.*
	@# Only the directories that are memshim's own, and the byte-code
	@# directory python made when the plugin was imported, if empty now.
	@for d in $(DESTDIR)$(PKGLIB) $(DESTDIR)$(DOCDIR); do [ ! -d $$d ] || rmdir $$d; done
	@rmdir $(DESTDIR)$(PYDIR)/__pycache__ 2>/dev/null || true

# The benchmark prints figures and is run on purpose: never part of check
# (tests/test_bench.c only checks that one tiny round runs). About three
# minutes; BENCH_ROUNDS=15 for more rounds (default 7).
bench: all $(B)/bench/bench
	@BENCH_ROUNDS=$(BENCH_ROUNDS) $(B)/bench/bench --preload $(abspath $(B))/libmemshim.so

clean:
	rm -rf build build-asan build-tsan

.PHONY: all check asan tsan tsan-run clean deps demo bench install uninstall
.SECONDARY:
