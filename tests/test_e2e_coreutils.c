/* End-to-end: coreutils on store paths, each scenario one process tree
 * (one `sh -c` under the preload, so the store lives exactly as long as
 * the scenario). umask 022 is set where modes are printed. */
#include "e2e/e2e.h"

#define Q64K "MEMSHIM_QUOTA=64K"

Test(e2e_coreutils, mkdir_p_makes_every_level)
{
	E2E_EXPECT("", "mkdir -p /mem/a/b/c && mkdir -p /mem/a/b/c && stat -c %F /mem/a /mem/a/b/c",
		   "directory\ndirectory\n");
}

Test(e2e_coreutils, echo_redirect_then_cat)
{
	E2E_EXPECT("", "echo hello > /mem/f && cat /mem/f && cat /mem/f /mem/f", "hello\nhello\nhello\n");
}

Test(e2e_coreutils, cp_copies_bytes_and_size)
{
	E2E_EXPECT("",
		   "dd if=/dev/urandom of=/mem/r bs=100000 count=3 iflag=fullblock status=none && cp /mem/r /mem/s && cmp /mem/r /mem/s "
		   "&& stat -c %s /mem/s && printf abc > /mem/f && cp /mem/f /mem/g && cat /mem/g",
		   "300000\nabc");
}

Test(e2e_coreutils, cp_in_and_out_across_the_prefix)
{
	E2E_EXPECT("",
		   "T=$(mktemp -d) && cp /etc/passwd /mem/p && cmp /etc/passwd /mem/p && "
		   "cp /mem/p $T/p && cmp /etc/passwd $T/p && echo same; rm -rf $T",
		   "same\n");
}

Test(e2e_coreutils, mv_renames_within_the_store)
{
	E2E_EXPECT("",
		   "echo x > /mem/a && mkdir /mem/d && mv /mem/a /mem/b && mv /mem/b /mem/d/ && "
		   "test ! -e /mem/a && test ! -e /mem/b && cat /mem/d/b && mv /mem/d /mem/e && ls /mem/e",
		   "x\nb\n");
}

Test(e2e_coreutils, mv_out_of_the_store_copies)
{
	/* rename gives EXDEV across the boundary; mv then copies and unlinks. */
	E2E_EXPECT("",
		   "T=$(mktemp -d) && echo moved > /mem/a && mv /mem/a $T/a && cat $T/a && "
		   "test ! -e /mem/a && mv $T/a /mem/b && cat /mem/b && test ! -e $T/a && echo ok; rm -rf $T",
		   "moved\nmoved\nok\n");
}

Test(e2e_coreutils, rm_r_removes_a_tree)
{
	E2E_EXPECT("",
		   "mkdir -p /mem/d/e/f && echo 1 > /mem/d/x && echo 2 > /mem/d/e/y && ln -s x /mem/d/l && "
		   "rm -r /mem/d && test ! -e /mem/d && ls -A /mem && echo gone",
		   "gone\n");
}

Test(e2e_coreutils, ls_l_lists_file_dir_and_symlink)
{
	E2E_EXPECT("",
		   "mkdir /mem/d && printf 12345 > /mem/d/f && mkdir /mem/d/sub && chmod 644 /mem/d/f && "
		   "chmod 755 /mem/d/sub && ln -s f /mem/d/l && ls -l /mem/d | awk \"NR > 1 { print \\$1, \\$2, \\$9, \\$10, \\$11 }\" "
		   "&& ls -l /mem/d/f | awk \"{ print \\$5 }\"",
		   "-rw-r--r-- 1 f  \n"
		   "lrwxrwxrwx 1 l -> f\n"
		   "drwxr-xr-x 2 sub  \n"
		   "5\n");
}

Test(e2e_coreutils, ls_sorts_and_shows_hidden)
{
	E2E_EXPECT("", "mkdir /mem/d && touch /mem/d/b /mem/d/a /mem/d/.h /mem/d/c && ls /mem/d && ls -A /mem/d | tr \"\\n\" \" \"",
		   "a\nb\nc\n.h a b c ");
}

Test(e2e_coreutils, stat_reports_size_type_mode_links)
{
	E2E_EXPECT("",
		   "printf hello > /mem/f && mkdir -p /mem/d/s1 /mem/d/s2 && chmod 644 /mem/f && chmod 755 /mem/d && "
		   "ln -s f /mem/l && "
		   "stat -c \"%s %F %a %h\" /mem/f && stat -c \"%F %a %h\" /mem/d && "
		   "stat -c \"%F %s %N\" /mem/l && stat -L -c \"%F %s\" /mem/l",
		   "5 regular file 644 1\n"
		   "directory 755 4\n"
		   "symbolic link 1 '/mem/l' -> 'f'\n"
		   "regular file 5\n");
}

Test(e2e_coreutils, umask_applies_to_new_files_and_dirs)
{
	E2E_EXPECT("",
		   "umask 022; touch /mem/f && echo x > /mem/g && mkdir /mem/d && mkdir -p /mem/p/q && "
		   "umask 077 && touch /mem/h && mkdir /mem/e && stat -c \"%a %n\" /mem/f /mem/g /mem/d /mem/p/q "
		   "/mem/h /mem/e",
		   "644 /mem/f\n644 /mem/g\n755 /mem/d\n755 /mem/p/q\n600 /mem/h\n700 /mem/e\n");
}

Test(e2e_coreutils, stat_inode_is_stable_and_shared_by_links)
{
	E2E_EXPECT("",
		   "echo a > /mem/f && ln /mem/f /mem/h && a=$(stat -c %i /mem/f) && b=$(stat -c %i /mem/h) && "
		   "c=$(stat -c %i /mem/f) && echo b > /mem/g && d=$(stat -c %i /mem/g) && "
		   "test $a = $b && test $a = $c && test $a != $d && "
		   "test $(stat -c %d /mem/f) = $(stat -c %d /mem/g) && echo ok",
		   "ok\n");
}

Test(e2e_coreutils, find_walks_the_tree)
{
	E2E_EXPECT("",
		   "mkdir -p /mem/d/a/b /mem/d/c /mem/d/e && touch /mem/d/a/x.txt /mem/d/a/b/y.txt /mem/d/c/z.log && "
		   "find /mem/d | sort && echo -- && find /mem/d -name \"*.txt\" -type f | sort && echo -- && "
		   "find /mem/d -type d -empty",
		   "/mem/d\n/mem/d/a\n/mem/d/a/b\n/mem/d/a/b/y.txt\n/mem/d/a/x.txt\n/mem/d/c\n/mem/d/c/z.log\n"
		   "/mem/d/e\n--\n/mem/d/a/b/y.txt\n/mem/d/a/x.txt\n--\n/mem/d/e\n");
}

Test(e2e_coreutils, find_from_a_relative_start_after_cd)
{
	E2E_EXPECT("",
		   "mkdir -p /mem/d/a && touch /mem/d/a/x && cd /mem/d && find . | sort && pwd",
		   ".\n./a\n./a/x\n/mem/d\n");
}

Test(e2e_coreutils, du_counts_pages)
{
	/* 10000 bytes occupy three 4 KiB pages, as on tmpfs. */
	E2E_EXPECT("",
		   "mkdir /mem/d && dd if=/dev/zero of=/mem/d/f bs=10000 count=1 status=none && "
		   "dd if=/dev/zero of=/mem/d/g bs=5000 count=1 status=none && "
		   "du -k /mem/d/f && du -k -a /mem/d | sort -k2 | awk \"{ print \\$2 }\" && du -b /mem/d/f",
		   "12\t/mem/d/f\n/mem/d\n/mem/d/f\n/mem/d/g\n10000\t/mem/d/f\n");
}

Test(e2e_coreutils, dd_writes_and_reads)
{
	E2E_EXPECT("",
		   "dd if=/dev/zero of=/mem/z bs=4k count=3 status=none && stat -c %s /mem/z && "
		   "printf 0123456789 > /mem/n && dd if=/mem/n of=/mem/m bs=1 skip=2 count=5 status=none && "
		   "cat /mem/m && echo && dd if=/mem/n bs=4 count=1 status=none && echo && "
		   "dd if=/mem/n of=/mem/m bs=1 seek=5 conv=notrunc status=none && cat /mem/m",
		   "12288\n23456\n0123\n234560123456789");
}

Test(e2e_coreutils, tail_c_reads_the_end)
{
	E2E_EXPECT("",
		   "printf 0123456789 > /mem/f && tail -c 4 /mem/f && echo && "
		   "seq 1 1000 | dd of=/mem/s status=none && tail -n 2 /mem/s && tail -c +9 /mem/f",
		   "6789\n999\n1000\n89");
}

Test(e2e_coreutils, sort_o_writes_the_output_file)
{
	E2E_EXPECT("",
		   "printf \"b\\na\\nc\\n\" > /mem/in && sort -o /mem/out /mem/in && cat /mem/out && "
		   "sort -r -o /mem/in /mem/in && cat /mem/in",
		   "a\nb\nc\nc\nb\na\n");
}

Test(e2e_coreutils, ln_makes_a_hard_link)
{
	E2E_EXPECT("",
		   "echo one > /mem/f && ln /mem/f /mem/h && stat -c %h /mem/f && echo two >> /mem/h && cat /mem/f && "
		   "rm /mem/f && cat /mem/h && stat -c %h /mem/h",
		   "2\none\ntwo\none\ntwo\n1\n");
}

Test(e2e_coreutils, ln_s_and_readlink)
{
	E2E_EXPECT("",
		   "mkdir /mem/d && echo data > /mem/d/f && ln -s f /mem/d/l && ln -s /mem/d /mem/dl && "
		   "readlink /mem/d/l && cat /mem/d/l && readlink -f /mem/dl/l && cat /mem/dl/f && "
		   "ln -s nowhere /mem/dang && readlink /mem/dang && cat /mem/dang; echo $?",
		   "f\ndata\n/mem/d/f\ndata\nnowhere\ncat: /mem/dang: No such file or directory\n1\n");
}

Test(e2e_coreutils, ln_sf_replaces_a_link)
{
	E2E_EXPECT("",
		   "ln -s a /mem/l && ln -sf b /mem/l && readlink /mem/l && ln -s c /mem/l; echo $?",
		   "b\nln: failed to create symbolic link '/mem/l': File exists\n1\n");
}

Test(e2e_coreutils, touch_creates_and_sets_times)
{
	E2E_EXPECT("",
		   "touch /mem/t && stat -c %s /mem/t && touch -d \"2001-02-03 04:05:06 UTC\" /mem/t && "
		   "TZ=UTC stat -c %y /mem/t | cut -c1-19 && echo x > /mem/u && touch -r /mem/t /mem/u && "
		   "test $(stat -c %Y /mem/t) = $(stat -c %Y /mem/u) && echo same",
		   "0\n2001-02-03 04:05:06\nsame\n");
}

Test(e2e_coreutils, chmod_changes_mode)
{
	E2E_EXPECT("",
		   "echo \"#!/bin/sh\" > /mem/f && chmod 640 /mem/f && stat -c %a /mem/f && chmod u+x,o+r /mem/f && "
		   "stat -c \"%a %A\" /mem/f && test -x /mem/f && mkdir /mem/d && chmod 700 /mem/d && stat -c %a /mem/d",
		   "640\n744 -rwxr--r--\n700\n");
}

Test(e2e_coreutils, df_shows_the_quota)
{
	E2E_EXPECT("MEMSHIM_QUOTA=8M",
		   "df -k /mem | awk \"NR == 2 { print \\$2, \\$NF }\" && stat -f -c \"%S %b\" /mem | "
		   "awk \"{ print \\$1 * \\$2 }\"",
		   "8192 /mem\n8388608\n");
}

Test(e2e_coreutils, df_used_grows_with_data)
{
	/* 1 MiB of data plus the file's node (1 KiB), in df's 4 KiB blocks. */
	E2E_EXPECT("MEMSHIM_QUOTA=8M",
		   "a=$(df -k /mem | awk \"NR == 2 { print \\$3 }\") && dd if=/dev/zero of=/mem/f bs=64k count=16 "
		   "status=none && b=$(df -k /mem | awk \"NR == 2 { print \\$3 }\") && d=$((b - a)) && "
		   "test $d -ge 1025 -a $d -le 1028 && echo grew && rm /mem/f && "
		   "c=$(df -k /mem | awk \"NR == 2 { print \\$3 }\") && test $c = $a && echo back",
		   "grew\nback\n");
}

Test(e2e_coreutils, external_command_writing_a_redirected_stdout)
{
	/* The shell opens the file and the exec'd program inherits it as
	 * fd 1: its bytes are the file's, counted and stat'ed. */
	E2E_EXPECT("",
		   "head -c 20000 /dev/zero > /mem/a && /bin/echo hi > /mem/b && stat -c %s /mem/a /mem/b && "
		   "du -k /mem/a && wc -c < /mem/a && seq 3 >> /mem/b && cat /mem/b",
		   "20000\n3\n20\t/mem/a\n20000\nhi\n1\n2\n3\n");
}

Test(e2e_coreutils, external_command_past_the_quota_through_stdout)
{
	char out[8192];
	int st = e2e_sh(Q64K,
			"head -c 200000 /dev/zero > /mem/big; echo \"head=$?\"; stat -c \"size=%s\" /mem/big",
			out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_not_null(strstr(out, "No space left on device"), "%s", out);
	cr_assert_not_null(strstr(out, "head=1\n"), "%s", out);
	char *s = strstr(out, "size=");
	cr_assert_not_null(s, "%s", out);
	cr_assert_leq(atol(s + 5), 65536, "%s", out);
}

Test(e2e_coreutils, dd_past_the_quota_fails_with_enospc)
{
	char out[8192];
	int st = e2e_sh(Q64K,
			"dd if=/dev/zero of=/mem/big bs=1k count=200; echo \"dd=$?\"; "
			"stat -c \"size=%s\" /mem/big",
			out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_not_null(strstr(out, "No space left on device"), "%s", out);
	cr_assert_not_null(strstr(out, "dd=1\n"), "%s", out);
	char *s = strstr(out, "size=");
	cr_assert_not_null(s, "%s", out);
	long size = atol(s + 5);
	cr_assert(size > 0 && size <= 65536, "size %ld: %s", size, out);
}

Test(e2e_coreutils, refused_write_stores_nothing_and_frees_on_rm)
{
	/* After the refusal the store is still usable; rm gives the bytes
	 * back, so the same amount fits again. */
	E2E_EXPECT(Q64K,
		   "dd if=/dev/zero of=/mem/big bs=1k count=200 2>/dev/null; s=$(stat -c %s /mem/big); "
		   "test $s -le 65536 && { echo ok > /mem/small; } 2>/dev/null; "
		   "rm /mem/big && dd if=/dev/zero of=/mem/again bs=1k count=40 status=none && "
		   "stat -c %s /mem/again",
		   "40960\n");
}

Test(e2e_coreutils, cp_of_a_big_file_fails_cleanly)
{
	char out[8192];
	int st = e2e_sh(Q64K,
			"T=$(mktemp -d); head -c 200000 /dev/urandom > $T/big; cp $T/big /mem/big; echo \"cp=$?\"; "
			"s=$(stat -c %s /mem/big 2>/dev/null || echo 0); echo \"size=$s\"; "
			"rm -f /mem/big; echo fine > /mem/after && cat /mem/after; rm -rf $T",
			out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_not_null(strstr(out, "No space left on device"), "%s", out);
	cr_assert_not_null(strstr(out, "cp=1\n"), "%s", out);
	char *s = strstr(out, "size=");
	cr_assert_not_null(s, "%s", out);
	cr_assert_leq(atol(s + 5), 65536, "%s", out);
	cr_assert_not_null(strstr(out, "fine\n"), "%s", out);
}

Test(e2e_coreutils, cat_concatenation_past_the_quota_is_refused)
{
	/* cat copies with copy_file_range between two store files. */
	char out[8192];
	int st = e2e_sh(Q64K,
			"dd if=/dev/zero of=/mem/a bs=20000 count=1 status=none && cat /mem/a /mem/a /mem/a > /mem/c; echo \"cat=$?\"; "
			"echo \"sum=$(($(stat -c %s /mem/a) + $(stat -c %s /mem/c)))\"",
			out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_not_null(strstr(out, "No space left on device"), "%s", out);
	cr_assert_not_null(strstr(out, "cat=1\n"), "%s", out);
	char *s = strstr(out, "sum=");
	cr_assert_not_null(s, "%s", out);
	cr_assert_leq(atol(s + 4), 65536, "%s", out);
}

/* As on tmpfs, truncate makes a hole (charged nothing, whatever the
 * quota); fallocate allocates, and is refused whole past the quota. */
Test(e2e_coreutils, truncate_grows_a_hole_and_fallocate_stops_at_the_quota)
{
	char out[8192];
	int st = e2e_sh(Q64K,
			"truncate -s 20000 /mem/f && stat -c \"%s %b\" /mem/f && truncate -s 1G /mem/f; "
			"echo \"t=$?\"; stat -c \"%s %b\" /mem/f; fallocate -l 1M /mem/f; echo \"f=$?\"; "
			"stat -c \"%s %b\" /mem/f",
			out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_not_null(strstr(out, "20000 0\nt=0\n1073741824 0\n"), "%s", out);
	cr_assert_not_null(strstr(out, "No space left on device"), "%s", out);
	cr_assert_not_null(strstr(out, "f=1\n1073741824 0\n"), "%s", out);
}

/* ls asks for the ACL and security attributes of every entry, ".." among
 * them: ".." of a prefix is the real parent for those calls too. */
Test(e2e_coreutils, ls_la_of_a_prefix_shows_its_real_parent)
{
	E2E_EXPECT("",
		   "mkdir /mem/d && cd /mem/d && ls -la /mem > /dev/null && ls -la .. > /dev/null && "
		   "ls -la /mem/d/../.. > /dev/null && ls -lad /mem/.. | cut -c1 && "
		   "test $(stat -c %i /mem/..) = $(stat -c %i /) && echo same",
		   "d\nsame\n");
}

/* Two-path calls whose paths leave the store (".." above the prefix, a
 * store symlink to a real directory) are the kernel's: a link or rename
 * there is one, not EXDEV; only a real path and a store path mix. */
Test(e2e_coreutils, ln_and_mv_of_paths_that_leave_the_store_are_the_kernels)
{
	E2E_EXPECT("",
		   "T=$(mktemp -d) && echo x > $T/f && ln /mem/..$T/f /mem/..$T/g && "
		   "mv /mem/..$T/g /mem/..$T/h && ln /mem/..$T/f $T/i && mv $T/i /mem/..$T/j && "
		   "mkdir /mem/d && ln -s $T /mem/d/out && ln /mem/d/out/f /mem/d/out/k && "
		   "mv /mem/d/out/k /mem/d/../d/out/m && ls $T && stat -c %h $T/f; "
		   "ln /mem/..$T/f /mem/x 2>/dev/null || echo exdev; mv /mem/..$T/h /mem/y && cat /mem/y; "
		   "rm -rf $T",
		   "f\nh\nj\nm\n4\nexdev\nx\n");
}

Test(e2e_coreutils, cp_r_and_cp_a_copy_a_tree)
{
	/* cp -a also copies modes and ACLs (libacl's xattr calls). */
	E2E_EXPECT("",
		   "mkdir -p /mem/s/d && echo a > /mem/s/f && echo b > /mem/s/d/g && ln -s f /mem/s/l && "
		   "chmod 750 /mem/s/d && cp -r /mem/s /mem/r && cp -a /mem/s /mem/a && diff -r /mem/s /mem/r && "
		   "diff -r /mem/s /mem/a && readlink /mem/a/l && stat -c %a /mem/a/d && find /mem/a | sort",
		   "f\n750\n/mem/a\n/mem/a/d\n/mem/a/d/g\n/mem/a/f\n/mem/a/l\n");
}

Test(e2e_coreutils, sed_i_edits_in_place)
{
	/* sed writes a temporary file in the same directory through fdopen,
	 * then renames it over the original. */
	E2E_EXPECT("", "mkdir /mem/d && printf \"hi\\nthere\\n\" > /mem/d/f && sed -i s/hi/ho/ /mem/d/f && "
		       "cat /mem/d/f && ls -A /mem/d",
		   "ho\nthere\nf\n");
}

Test(e2e_coreutils, tar_roundtrip_in_the_store)
{
	E2E_EXPECT("",
		   "mkdir -p /mem/src/a/b && echo x > /mem/src/a/b/c && ln -s b/c /mem/src/a/l && "
		   "chmod 750 /mem/src/a && tar cf /mem/x.tar -C /mem src && mkdir /mem/out && "
		   "tar xf /mem/x.tar -C /mem/out && diff -r /mem/src /mem/out/src && "
		   "stat -c %a /mem/out/src/a && tar tf /mem/x.tar | sort",
		   "750\nsrc/\nsrc/a/\nsrc/a/b/\nsrc/a/b/c\nsrc/a/l\n");
}

Test(e2e_coreutils, gzip_roundtrip)
{
	E2E_EXPECT("", "seq 1000 | dd of=/mem/s status=none && gzip -k /mem/s && gzip -dc /mem/s.gz | cmp - /mem/s && "
		       "rm /mem/s && gzip -d /mem/s.gz && wc -l < /mem/s && ls /mem",
		   "1000\ns\n");
}

Test(e2e_coreutils, grep_r_searches_the_tree)
{
	E2E_EXPECT("", "mkdir -p /mem/d/e && echo needle > /mem/d/a && echo hay > /mem/d/b && "
		       "echo \"a needle\" > /mem/d/e/c && grep -r needle /mem/d | sort && grep -rl hay /mem/d",
		   "/mem/d/a:needle\n/mem/d/e/c:a needle\n/mem/d/b\n");
}

Test(e2e_coreutils, mktemp_and_realpath)
{
	E2E_EXPECT("",
		   "d=$(mktemp -d -p /mem) && f=$(mktemp -p $d) && test -f $f && test -d $d && "
		   "test $(dirname $f) = $d && stat -c %a $d $f && mkdir /mem/x && ln -s /mem/x /mem/lx && "
		   "touch /mem/x/y && realpath /mem/lx/../x/./y /mem/lx && realpath -m /mem/nope/../z",
		   "700\n600\n/mem/x/y\n/mem/x\n/mem/z\n");
}

Test(e2e_coreutils, head_wc_tee_install)
{
	E2E_EXPECT("",
		   "seq 100 | tee /mem/t | tail -n 1 && wc -l /mem/t && head -n 2 /mem/t && "
		   "install -m 755 /mem/t /mem/i && stat -c \"%a %s\" /mem/i && cmp /mem/t /mem/i && "
		   "install -d -m 700 /mem/id && stat -c %a /mem/id",
		   "100\n100 /mem/t\n1\n2\n755 292\n700\n");
}
