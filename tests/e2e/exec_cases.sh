# tests/e2e/exec_cases.sh — programs started, exec'd, run from the store,
# killed and left in the background, run by tests/test_e2e_exec.c as
# `sh exec_cases.sh CASE` under the preload. Each case is one process tree
# (the store lives for exactly one case) and prints what the test compares.
# XL is tests/helpers/exec_launch, XC tests/helpers/exec_check, PY python3.

# Lines that tell what a size is, not the size itself (it depends on the
# ledger's accounting).
# The suite may itself run under make (make check): the make cases must
# not think they are sub-makes.
unset MAKELEVEL MAKEFLAGS MFLAGS

at_most_quota() {
	s=$(stat -c %s "$1")
	[ "$s" -le 65536 ] && echo "at most the quota"
	[ "$s" -ge 32768 ] && echo "most of the quota used"
}

# ---- environments without the shim's variables ------------------------------------

case_env_i() {
	echo data > /mem/in
	env -i "$XL" child /mem/in /mem/out env-i
	echo "status=$?"
	cat /mem/out
	env -i /bin/sh -c "cat /mem/in; echo more >> /mem/out"
	cat /mem/out
}

case_env_i_path_search() {
	# env -i, then a PATH search (execvp with PATH unset) for cat.
	echo data > /mem/in
	env -i cat /mem/in
	env -i PATH=/usr/bin:/bin sh -c "cat /mem/in > /mem/out"
	cat /mem/out
}

# ---- programs stored in the store ------------------------------------------------------

case_store_binary() {
	mkdir /mem/bin
	cp /bin/true /bin/false /mem/bin/
	chmod +x /mem/bin/true /mem/bin/false
	/mem/bin/true
	echo "true=$?"
	/mem/bin/false
	echo "false=$?"
	cp /bin/echo /mem/bin/echo
	/mem/bin/echo from the store
}

case_store_helper_by_path() {
	mkdir /mem/bin
	cp "$XL" /mem/bin/xl
	chmod 755 /mem/bin/xl
	echo data > /mem/in
	/mem/bin/xl child /mem/in /mem/out by-path
	echo "status=$?"
	cat /mem/out
}

case_store_helper_through_path() {
	mkdir /mem/bin
	cp "$XL" /mem/bin/xl
	chmod +x /mem/bin/xl
	echo data > /mem/in
	PATH=/mem/bin:$PATH
	xl child /mem/in /mem/out sh-path-search
	echo "status=$?"
	cat /mem/out
	command -v xl
}

case_store_helper_env_path() {
	# env does the PATH search itself (execvp).
	mkdir /mem/bin
	cp "$XL" /mem/bin/xl
	chmod +x /mem/bin/xl
	echo data > /mem/in
	PATH=/mem/bin:$PATH env xl child /mem/in /mem/out env-path-search
	echo "status=$?"
	cat /mem/out
}

# A store program started by exec_launch's METHOD ($1).
case_store_via() {
	mkdir /mem/bin
	cp "$XL" /mem/bin/xl
	chmod +x /mem/bin/xl
	"$XL" via "$1" /mem/bin/xl
}

case_store_script() {
	mkdir /mem/bin
	printf "#!/bin/sh\necho script ran with \$# args: \$1 \$2\ncat /mem/in\nexit 7\n" > /mem/bin/s
	chmod +x /mem/bin/s
	echo data > /mem/in
	/mem/bin/s one two
	echo "status=$?"
	PATH=/mem/bin:$PATH s three
	echo "status=$?"
}

case_store_script_dollar0() {
	# The script sees the path it was run by, as on a real filesystem.
	mkdir /mem/bin
	printf "#!/bin/sh\necho \"\$0\"\n" > /mem/bin/s
	chmod +x /mem/bin/s
	/mem/bin/s
	cd /mem/bin && ./s
}

case_store_script_python() {
	mkdir /mem/bin
	printf "#!%s\nimport sys\nprint(\"py\", sys.argv[1:], open(\"/mem/in\").read().strip())\n" "$PY" > /mem/bin/p
	chmod +x /mem/bin/p
	echo data > /mem/in
	/mem/bin/p a b
	echo "status=$?"
}

case_noexec_shell() {
	mkdir /mem/bin
	printf "#!/bin/sh\necho must not run\n" > /mem/bin/nx
	chmod 644 /mem/bin/nx
	/mem/bin/nx 2> /mem/err
	echo "status=$?"
	grep -c "Permission denied" /mem/err
	"$XL" noexec_execv /mem/bin/nx
	"$XL" noexec_spawn /mem/bin/nx
	# A directory is not a program either.
	"$XL" noexec_execv /mem/bin
}

# ---- state across exec -----------------------------------------------------------------

case_fd1() {
	/bin/echo hello > /mem/out
	echo "status=$?"
	cat /mem/out
	stat -c %s /mem/out
	/usr/bin/printf "%s\n" more >> /mem/out
	cat /mem/out
	stat -c %s /mem/out
}

case_fd0() {
	printf "l1\nl2\nl3\n" > /mem/in
	/usr/bin/wc -l < /mem/in
	/bin/cat < /mem/in
	$PY -c "import sys; print(sys.stdin.readline().strip())" < /mem/in
}

case_fd2() {
	/bin/ls /nonexistent-memshim 2> /mem/err
	echo "status=$?"
	grep -c "No such file or directory" /mem/err
	$PY -c "import sys; sys.stderr.write(\"py-err\\n\")" 2>> /mem/err
	tail -n 1 /mem/err
}

case_fd3() {
	exec 3> /mem/log
	echo a >&3
	sh -c "echo x >&3"
	/bin/echo y >&3
	$PY -c "import os; os.write(3, b\"z\\n\")"
	/bin/sh -c "/bin/echo w >&3"
	exec 3>&-
	cat /mem/log
}

case_shared_offset() {
	{ echo a; sh -c "echo b"; echo c; } > /mem/f
	cat /mem/f
	{ echo 1; /bin/echo 2; $PY -c "print(3)"; sh -c "/bin/echo 4; echo 5"; echo 6; } > /mem/g
	tr "\n" " " < /mem/g
	echo
	stat -c %s /mem/g
}

case_dirfd() {
	mkdir /mem/d
	echo inside > /mem/d/name
	"$XL" dirfd_open /mem/d name
	echo "status=$?"
	cat /mem/d/made
	ls /mem/d
}

# The same directory fd passed on by a program that got it itself through
# an exec (a shell, then the program): each exec lists it for the next.
case_dirfd_twice() {
	mkdir /mem/d
	echo inside > /mem/d/name
	exec 3</mem/d
	sh -c "\"$XL\" dirfd_use 3 name; echo status=\$?"
	exec 3<&-
	cat /mem/d/made
	ls /mem/d
}

cwd_setup() {
	mkdir -p /mem/x/y
	echo content > /mem/x/f
	cd /mem/x
}

case_cwd_sh_pwd() {
	cwd_setup
	pwd
	sh -c pwd
	bash -c pwd
}

case_cwd_bin_pwd() {
	cwd_setup
	/bin/pwd
	/bin/pwd -P
	env pwd
}

case_cwd_relative() {
	cwd_setup
	cat f
	/bin/cat f
	sh -c "cat f; /bin/cat ../x/f"
	sh -c "echo made > g; cd y && echo deeper > h"
	cat /mem/x/g /mem/x/y/h
	ls
}

case_cwd_python() {
	cwd_setup
	$PY -c "import os; print(os.getcwd()); print(open(\"f\").read().strip()); print(sorted(os.listdir(\".\")))"
	cd y
	$PY -c "import os; print(os.getcwd())"
}

# ---- standard streams past the quota in an exec'd program ----------------------------

case_quota_head() {
	# head's message goes to a real file: the full store has no room for it
	err=$(mktemp)
	head -c 100000 /dev/zero > /mem/c 2> "$err"
	echo "status=$?"
	grep -c "No space left on device" "$err"
	rm -f "$err"
	at_most_quota /mem/c
}

case_quota_printf() {
	# The exec'd helper's printf + fflush: refused from the first write
	# past the quota, and a refused write stores nothing.
	r=$("$XL" fill 2>&1 > /mem/c)
	echo "${r#* }"
	ok=${r#ok=}
	ok=${ok%% *}
	s=$(stat -c %s /mem/c)
	[ "$ok" = "$s" ] && echo "accepted bytes all stored"
	at_most_quota /mem/c
}

case_quota_spawn_addopen() {
	# The stdout a posix_spawn file action opened: quota-checked too.
	r=$("$XL" spawn_fill /mem/c 2>&1)
	echo "$r" | grep -o "err=[A-Z]*"
	echo "$r" | grep -o "status=[0-9]*"
	at_most_quota /mem/c
}

# ---- real tools ------------------------------------------------------------------------

write_makefile() {
	mkdir -p /mem/proj
	cd /mem/proj
	echo src > src
	{
		printf "T = t1 t2 t3 t4 t5 t6 t7 t8\n"
		printf "all: \$(T)\n"
		printf "\$(T): src\n"
		printf "\tfor i in 1 2 3 4 5; do /bin/echo \"\$@ a\$\$i %s\" >> /mem/log; echo \"\$@ b\$\$i %s\" >> /mem/log; done\n" \
			xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx \
			yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy
		printf "\tcat src > \$@\n"
	} > Makefile
}

case_make_j2() {
	write_makefile
	make -s -j2
	echo "status=$?"
	wc -l < /mem/log
	sort -u /mem/log | wc -l
	# Every line whole: target, tag, 60 letters.
	grep -cvE "^t[1-8] (a[1-5] x{60}|b[1-5] y{60})$" /mem/log
	stat -c %s /mem/log
	ls
	cat t5
}

case_make_up_to_date() {
	write_makefile
	make -s -j2
	make
	# Only what is older than src is made again.
	sleep 0.01
	touch src
	sleep 0.01
	touch t3
	make -j2 2>&1 | grep -c "^for i"
}

case_gcc() {
	mkdir /mem/src
	printf "#include <stdio.h>\nint main(void)\n{\n\tchar b[64] = {0};\n\tFILE *f = fopen(\"/mem/msg\", \"r\");\n\tif (!f || !fgets(b, sizeof(b), f))\n\t\treturn 2;\n\tprintf(\"hello %%s\", b);\n\treturn 0;\n}\n" > /mem/src/hello.c
	echo world > /mem/msg
	gcc -o /mem/hello /mem/src/hello.c
	echo "gcc=$?"
	/mem/hello
	echo "status=$?"
	[ -x /mem/hello ] && echo executable
	head -c 4 /mem/hello | od -An -c | tr -d " "
}

case_gcc_cwd_objects() {
	mkdir /mem/src
	cd /mem/src
	printf "int twice(int x) { return 2 * x; }\n" > lib.c
	printf "#include <stdio.h>\nint twice(int);\nint main(void) { printf(\"%%d\\\\n\", twice(21)); return 0; }\n" > main.c
	gcc -c lib.c && gcc -c main.c && gcc -o prog main.o lib.o
	echo "gcc=$?"
	ls
	./prog
}

find_setup() {
	mkdir -p /mem/t/sub/deeper
	echo one > /mem/t/a
	echo two > /mem/t/b
	echo three > /mem/t/sub/c
	echo four > /mem/t/sub/deeper/d
}

case_find_exec_plus() {
	find_setup
	find /mem -type f -exec cat {} + | sort
	find /mem/t -type f -exec wc -c {} + | sort
}

case_find_exec_semicolon() {
	find_setup
	find /mem -type f -exec cat {} \; | sort
	find /mem/t -name "[ab]" -exec sh -c "cat \$1 >> /mem/t/sub/all" sh {} \;
	sort /mem/t/sub/all
}

case_find_execdir() {
	find_setup
	find /mem/t -type f -name c -execdir pwd \;
	find /mem/t -type f -name d -execdir cat {} \;
}

case_xargs_p4() {
	mkdir /mem/x
	for i in $(seq 1 24); do echo "$i" > /mem/x/f$i; done
	find /mem/x -type f | xargs -P 4 -n 3 sh -c "for f; do cat \$f >> /mem/sum; done" sh
	sort -n /mem/sum | tr "\n" " "
	echo
	seq 1 24 | xargs -P 4 -I{} sh -c "echo {}{} > /mem/x/g{}"
	cat /mem/x/g* | sort -n | tr "\n" " "
	echo
	ls /mem/x | wc -l
}

case_background_late() {
	sh -c "(sleep 0.3; echo late > /mem/late) &"
	echo "sh exited"
	sleep 1
	cat /mem/late
}

case_background_outlives_tree() {
	# The shell that started the tree exits at once; the background
	# process, alone in the tree, still uses the store and starts
	# programs that join it.
	echo early > /mem/early
	(sleep 0.5; echo late > /mem/late; cat /mem/early /mem/late; ls /mem) &
	echo "parent done"
}

case_killed_writer() {
	# MEMSHIM_QUOTA=120M: 100 MB fit once, not twice.
	dd if=/dev/zero of=/mem/big bs=1M count=100 2> /dev/null &
	p=$!
	until [ -s /mem/big ] || ! kill -0 $p 2> /dev/null; do :; done
	sleep 0.01
	kill -9 $p
	wait $p 2> /dev/null
	echo "dd=$?"
	ls -l /mem | grep -c " big$"
	s=$(stat -c %s /mem/big)
	[ "$s" -lt 104857600 ] && echo "killed mid-write"
	"$XC"
	rm /mem/big && echo removed
	# At once: what the dead writer held is given back when needed.
	dd if=/dev/zero of=/mem/big bs=1M count=100 status=none
	echo "rewrite=$?"
	stat -c %s /mem/big
	rm /mem/big
	# df near zero again (the keeper may take a moment to notice the
	# death: its rounds are a second apart, and two looks in a row must
	# find the orphan unheld; a loaded machine delays both, so wait up
	# to 5 s — a bound on waiting, not a timing check).
	i=0
	while used=$(df -k /mem | awk "NR == 2 { print \$3 }") && [ "$used" -gt 64 ] && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ "$used" -le 64 ] && echo "used near zero" || echo "used=${used}K after rm"
	"$XC"
}

"case_$1" "$2"
