# tests/e2e/shell_cases.sh — shell redirection scenarios on store files, run
# by tests/test_e2e_shell.c as `bash shell_cases.sh CASE` and
# `dash shell_cases.sh CASE` under the preload. Each case prints what the
# test compares; the whole case is one process tree, so the store lives
# for exactly one case. bash's echo/printf write through the stdout FILE*,
# dash's through the write symbol: both must reach the store and its quota.

case_truncate() {
	echo one > /mem/f
	echo two > /mem/f
	cat /mem/f
}

case_append() {
	echo one > /mem/f
	echo two >> /mem/f
	printf 'three\n' >> /mem/f
	cat /mem/f
}

case_stderr_to_stdout() {
	{ echo out; echo err >&2; } > /mem/f 2>&1
	ls /mem/missing >> /mem/f 2>&1
	sed 's/^ls: .*missing.*No such file or directory$/ls-error/' /mem/f
}

case_stderr_only() {
	{ echo out; echo err >&2; } 2> /mem/e
	echo "file: $(cat /mem/e)"
}

case_exec_fd3() {
	exec 3> /mem/log
	echo a >&3
	printf 'b%s\n' 1 >&3
	/bin/echo c >&3
	exec 3>&-
	cat /mem/log
	exec 4>> /mem/log
	echo d >&4
	exec 4>&-
	cat /mem/log
}

case_exec_stdout() {
	# exec > moves the shell's own stdout into the store and back.
	exec 5>&1
	exec > /mem/out
	echo inside
	printf '%d\n' 42
	exec 1>&5 5>&-
	echo outside
	cat /mem/out
}

case_builtins() {
	echo e > /mem/f
	printf '%s-%d\n' x 5 >> /mem/f
	printf '%s\n' a b c >> /mem/f
	cat /mem/f
}

case_stdout_restored() {
	# After a redirected builtin the shell's stdout is the pipe again.
	echo a > /mem/f
	echo b
	printf 'c\n' > /mem/g
	printf 'd\n'
	cat /mem/f /mem/g
}

case_group_order() {
	echo d > /mem/in
	{ echo a; /bin/echo b; printf 'c\n'; cat /mem/in; echo e; } > /mem/f
	cat /mem/f
}

case_input_redirect() {
	printf 'x\ny\nz\n' > /mem/in
	while read -r l; do echo "<$l>"; done < /mem/in
	wc -l < /mem/in
	read -r first < /mem/in
	echo "first=$first"
	exec 6< /mem/in
	read -r a <&6
	read -r b <&6
	exec 6<&-
	echo "$a$b"
}

case_heredoc() {
	v=expanded
	cat > /mem/h <<EOF
line1
$v
EOF
	cat >> /mem/h <<'EOF'
$v
EOF
	cat /mem/h
	wc -c < /mem/h
}

case_heredoc_tmpdir_in_store() {
	# A here-doc larger than a pipe goes through a temporary file in
	# $TMPDIR (bash), which is here a store directory.
	mkdir /mem/tmp
	TMPDIR=/mem/tmp
	export TMPDIR
	big=$(head -c 100000 /dev/zero | tr '\0' x)
	cat <<EOF | wc -c
$big
EOF
	ls -A /mem/tmp | wc -l
}

case_noclobber() {
	echo a > /mem/f
	set -C
	(echo b > /mem/f) 2>/dev/null || echo refused
	echo c >| /mem/f
	cat /mem/f
}

case_subshell_and_pipe() {
	(echo sub; echo shell) > /mem/f
	cat /mem/f | tr a-z A-Z > /mem/g
	cat /mem/g
	echo piped | tee /mem/t > /dev/null
	cat /mem/t
}

case_cd_relative() {
	mkdir -p /mem/d/e
	cd /mem/d
	echo rel > f
	cat /mem/d/f
	cd e
	echo "$(pwd)"
	cat ../f
	ls ..
}

case_exec_read_write() {
	printf 'abcdef' > /mem/f
	exec 3<> /mem/f
	# dd advances the offset that fd 3 shares with it.
	dd bs=1 count=2 <&3 > /dev/null 2>&1
	printf 'XY' >&3
	exec 3>&-
	cat /mem/f
	echo
}

case_loop_append() {
	for i in 1 2 3; do echo "$i" >> /mem/f; done
	i=0
	while [ $i -lt 3 ]; do printf '%d' $i; i=$((i + 1)); done >> /mem/f
	echo >> /mem/f
	cat /mem/f
	echo "$(cat /mem/f | wc -l) lines"
}

case_scripts_in_store() {
	# A script stored in the store: sourced, run by a shell, and
	# executed by its path (the kernel never sees the store: exec).
	printf '#!/bin/sh\necho "ran $1"\n' > /mem/s.sh
	set -- sourced
	. /mem/s.sh
	sh /mem/s.sh by-sh
	chmod +x /mem/s.sh
	/mem/s.sh by-path
}

# The quota on builtin output: 70000 bytes do not fit in 64K.
case_quota_printf() {
	# the message goes to a real file: the full store has no room for it
	err=$(mktemp)
	printf '%070000d' 0 > /mem/f 2> "$err"
	echo "status=$?"
	sed 's/.*printf: //' "$err"
	rm -f "$err"
	# stdio (bash) may have stored the 4 KiB blocks that fitted before
	# the refused one; dash writes once and stores nothing.
	s=$(stat -c %s /mem/f)
	[ "$s" -le 65536 ] && echo "at most the quota"
	[ $((s % 4096)) -eq 0 ] && echo "whole blocks"
	rm /mem/f
	printf small > /mem/g && cat /mem/g && echo
}

case_quota_echo_loop() {
	line=0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789
	i=0
	err=$( { while [ $i -lt 1000 ]; do echo "$line"; i=$((i + 1)); done > /mem/f; } 2>&1 )
	# bash names the errno; dash says "I/O error" whatever it was.
	echo "$err" | sed 's/.*echo: //' | sort -u
	s=$(stat -c %s /mem/f)
	[ "$s" -le 65536 ] && echo "at most the quota"
	[ $((s % 101)) -eq 0 ] && echo "whole lines"
}

"case_$1"
