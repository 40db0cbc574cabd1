/* tests/test_config.c — MEMSHIM_* parsing (core/config.c).
 *
 * Every variable's default, every accepted form, every malformed form with
 * the shape of its one-line message, a percentage quota through an injected
 * probe, the derived node limit, and ms_parse_size's edge cases. The
 * environment is a fake table fed through ms_config_load's getter, except in
 * the tests of the environ walk.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "config.h"
#include "store.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* ---- a fake environment -------------------------------------------------- */

static struct {
	const char *k, *v;
} env[32];
static int nenv;

static void put(const char *k, const char *v)
{
	env[nenv].k = k;
	env[nenv].v = v;
	nenv++;
}

static const char *fake_get(const char *name)
{
	for (int i = 0; i < nenv; i++) {
		if (!strcmp(env[i].k, name))
			return env[i].v;
	}
	return NULL;
}

static struct ms_config c;
static char err[1024];

static int load(void)
{
	return ms_config_load(&c, fake_get, err, sizeof(err));
}

/* Loads VAR=val alone and expects it to parse. */
static void good(const char *var, const char *val)
{
	nenv = 0;
	put(var, val);
	cr_assert_eq(load(), 0, "%s=\"%s\" refused: %s", var, val, err);
	cr_assert_str_empty(err);
}

/* Loads VAR=val alone and expects -EINVAL with one line shaped as
 *   VAR="<shown>": <what>; use e.g. <example>
 * where `what` contains `what_sub` when given. `shown` is the value as the
 * message quotes it (escaped); NULL = val itself. */
static void bad_as(const char *var, const char *val, const char *shown, const char *what_sub)
{
	char head[1200];

	nenv = 0;
	put(var, val);
	cr_assert_eq(load(), -EINVAL, "%s=\"%s\" accepted", var, val);
	snprintf(head, sizeof(head), "%s=\"%s\": ", var, shown ? shown : val);
	cr_assert(!strncmp(err, head, strlen(head)), "message does not start with [%s]: [%s]",
		  head, err);
	cr_assert(strstr(err, "; use e.g. "), "no example in: %s", err);
	cr_assert(err[strlen(err) - 1] != ' ' && strlen(err) > strlen(head) + 12,
		  "no explanation or example in: %s", err);
	cr_assert_null(strchr(err, '\n'), "not one line: %s", err);
	if (what_sub)
		cr_assert(strstr(err, what_sub), "[%s] not in: %s", what_sub, err);
}

static void bad(const char *var, const char *val, const char *what_sub)
{
	bad_as(var, val, NULL, what_sub);
}

/* ---- an injected probe ---------------------------------------------------- */

static uint64_t fake_avail;
static int fake_ret;
static int fake_calls;

static int fake_probe(uint64_t *avail, const char **source)
{
	fake_calls++;
	*avail = fake_avail;
	*source = "cgroup2";
	return fake_ret;
}

static void use_fake_probe(uint64_t avail)
{
	fake_avail = avail;
	fake_ret = 0;
	fake_calls = 0;
	ms_guard_set_probe(fake_probe);
}

/* ---- defaults --------------------------------------------------------------- */

Test(defaults, prefix_is_mem)
{
	cr_assert_eq(load(), 0);
	cr_assert_eq(c.nprefix, 1);
	cr_assert_str_eq(c.prefix[0], "/mem");
}

Test(defaults, quota_is_256M)
{
	cr_assert_eq(load(), 0);
	cr_assert_eq(c.max_bytes, 256 * MiB);
	cr_assert_eq(c.max_bytes, MS_DEFAULT_QUOTA);
}

Test(defaults, nodes_derived_from_default_quota)
{
	cr_assert_eq(load(), 0);
	cr_assert_eq(c.max_nodes, 256 * MiB / MS_BYTES_PER_DEFAULT_NODE);
}

Test(defaults, quota_errno_is_enospc)
{
	cr_assert_eq(load(), 0);
	cr_assert_eq(c.quota_errno, ENOSPC);
}

Test(defaults, guard_is_init)
{
	cr_assert_eq(load(), 0);
	cr_assert_eq(c.guard, MS_GUARD_INIT);
}

Test(defaults, guard_action_is_warn)
{
	cr_assert_eq(load(), 0);
	cr_assert_eq(c.guard_action, MS_GUARD_WARN);
}

Test(defaults, guard_interval_is_one_second)
{
	cr_assert_eq(load(), 0);
	cr_assert_eq(c.guard_interval_ns, 1000000000ULL);
}

Test(defaults, log_is_warn)
{
	cr_assert_eq(load(), 0);
	cr_assert_eq(c.log_level, MS_LOG_WARN);
}

Test(defaults, store_is_private)
{
	cr_assert_eq(load(), 0);
	cr_assert_str_empty(c.store_name);
}

Test(defaults, err_cleared_on_success)
{
	strcpy(err, "stale");
	cr_assert_eq(load(), 0);
	cr_assert_str_empty(err);
}

Test(defaults, default_quota_does_not_probe)
{
	use_fake_probe(GiB);
	cr_assert_eq(load(), 0);
	cr_assert_eq(fake_calls, 0);
}

/* ---- the process environment, read without getenv --------------------------- */

Test(environ, defaults_with_no_memshim_variables)
{
	unsetenv("MEMSHIM_LOG"); /* make check sets it */
	unsetenv("MEMSHIM_QUOTA");
	unsetenv("MEMSHIM_PREFIX");
	cr_assert_eq(ms_config_load(&c, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.prefix[0], "/mem");
	cr_assert_eq(c.max_bytes, MS_DEFAULT_QUOTA);
}

Test(environ, reads_variables_from_environ)
{
	setenv("MEMSHIM_PREFIX", "/scratch:/tmp/x", 1);
	setenv("MEMSHIM_QUOTA", "64M", 1);
	setenv("MEMSHIM_LOG", "debug", 1);
	cr_assert_eq(ms_config_load(&c, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.nprefix, 2);
	cr_assert_str_eq(c.prefix[1], "/tmp/x");
	cr_assert_eq(c.max_bytes, 64 * MiB);
	cr_assert_eq(c.log_level, MS_LOG_DEBUG);
}

Test(environ, name_must_match_whole)
{
	/* MEMSHIM_QUOTA_ERRNO must not be read as MEMSHIM_QUOTA */
	unsetenv("MEMSHIM_QUOTA");
	setenv("MEMSHIM_QUOTA_ERRNO", "EDQUOT", 1);
	setenv("MEMSHIM_QUOTAX", "1K", 1);
	cr_assert_eq(ms_config_load(&c, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.max_bytes, MS_DEFAULT_QUOTA);
	cr_assert_eq(c.quota_errno, EDQUOT);
}

Test(environ, malformed_value_from_environ)
{
	setenv("MEMSHIM_QUOTA", "12Q", 1);
	cr_assert_eq(ms_config_load(&c, NULL, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "MEMSHIM_QUOTA=\"12Q\": not a size; use e.g. 64M, 2G, 512K or 25%");
}

/* ---- empty values ------------------------------------------------------------ */

Test(empty, every_variable_rejects_empty)
{
	static const char *vars[] = { "MEMSHIM_PREFIX",	      "MEMSHIM_QUOTA",
				      "MEMSHIM_MAX_NODES",    "MEMSHIM_QUOTA_ERRNO",
				      "MEMSHIM_GUARD",	      "MEMSHIM_GUARD_ACTION",
				      "MEMSHIM_GUARD_INTERVAL", "MEMSHIM_LOG",
				      "MEMSHIM_STORE" };

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		bad(vars[i], "", "empty");
}

/* ---- MEMSHIM_PREFIX ------------------------------------------------------------ */

Test(prefix, single)
{
	good("MEMSHIM_PREFIX", "/scratch");
	cr_assert_eq(c.nprefix, 1);
	cr_assert_str_eq(c.prefix[0], "/scratch");
}

Test(prefix, several)
{
	good("MEMSHIM_PREFIX", "/mem:/tmp/fast:/var/cache/x");
	cr_assert_eq(c.nprefix, 3);
	cr_assert_str_eq(c.prefix[0], "/mem");
	cr_assert_str_eq(c.prefix[1], "/tmp/fast");
	cr_assert_str_eq(c.prefix[2], "/var/cache/x");
}

Test(prefix, collapses_slashes_and_drops_trailing)
{
	good("MEMSHIM_PREFIX", "//mem//a///b/");
	cr_assert_str_eq(c.prefix[0], "/mem/a/b");
}

Test(prefix, dots_inside_names_are_fine)
{
	good("MEMSHIM_PREFIX", "/mem/.cache/a..b/...");
	cr_assert_str_eq(c.prefix[0], "/mem/.cache/a..b/...");
}

Test(prefix, siblings_sharing_a_string_prefix)
{
	good("MEMSHIM_PREFIX", "/mem:/memx:/me");
	cr_assert_eq(c.nprefix, 3);
}

Test(prefix, the_maximum_count)
{
	good("MEMSHIM_PREFIX", "/a:/b:/c:/d:/e:/f:/g:/h");
	cr_assert_eq(c.nprefix, MS_MAX_PREFIXES);
	cr_assert_str_eq(c.prefix[7], "/h");
}

Test(prefix, longest_allowed)
{
	static char val[MS_PREFIX_MAX + 8];
	size_t o = 0;

	/* "/" + 254 x 'a', four times: 1020 bytes, then "/abc" = 1023 + NUL */
	for (int k = 0; k < 4; k++) {
		val[o++] = '/';
		memset(val + o, 'a', 254);
		o += 254;
	}
	memcpy(val + o, "/ab", 4);
	cr_assert_eq(strlen(val), MS_PREFIX_MAX - 1);
	good("MEMSHIM_PREFIX", val);
	cr_assert_str_eq(c.prefix[0], val);
}

Test(prefix, relative)
{
	bad("MEMSHIM_PREFIX", "mem", "\"mem\" is not an absolute path");
}

Test(prefix, relative_in_list)
{
	bad("MEMSHIM_PREFIX", "/mem:tmp", "\"tmp\" is not an absolute path");
}

Test(prefix, root)
{
	bad("MEMSHIM_PREFIX", "/", "whole file system");
}

Test(prefix, root_spelled_with_slashes)
{
	bad("MEMSHIM_PREFIX", "///", "whole file system");
}

Test(prefix, dot_component)
{
	bad("MEMSHIM_PREFIX", "/mem/./x", "'.' or '..'");
}

Test(prefix, trailing_dot)
{
	bad("MEMSHIM_PREFIX", "/mem/.", "'.' or '..'");
}

Test(prefix, dotdot_component)
{
	bad("MEMSHIM_PREFIX", "/mem/../etc", "'.' or '..'");
}

Test(prefix, duplicate)
{
	bad("MEMSHIM_PREFIX", "/mem:/mem", "\"/mem\" is listed twice");
}

Test(prefix, duplicate_after_normalising)
{
	bad("MEMSHIM_PREFIX", "/mem://mem/", "listed twice");
}

Test(prefix, nested_after)
{
	bad("MEMSHIM_PREFIX", "/mem:/mem/a", "\"/mem/a\" is inside \"/mem\"");
}

Test(prefix, nested_before)
{
	bad("MEMSHIM_PREFIX", "/mem/a:/mem", "\"/mem/a\" is inside \"/mem\"");
}

Test(prefix, empty_entry)
{
	bad("MEMSHIM_PREFIX", "/mem::/x", "empty path");
}

Test(prefix, trailing_colon)
{
	bad("MEMSHIM_PREFIX", "/mem:", "empty path");
}

Test(prefix, too_many)
{
	bad("MEMSHIM_PREFIX", "/a:/b:/c:/d:/e:/f:/g:/h:/i", "more than 8 paths");
}

Test(prefix, too_long)
{
	static char val[MS_PREFIX_MAX + 8];
	size_t o = 0;

	for (int k = 0; k < 4; k++) {
		val[o++] = '/';
		memset(val + o, 'a', 254);
		o += 254;
	}
	memcpy(val + o, "/abc", 5); /* 1024 bytes: no room for the NUL */
	nenv = 0;
	put("MEMSHIM_PREFIX", val);
	cr_assert_eq(load(), -EINVAL);
	cr_assert(strstr(err, "longer than 1023 bytes"), "%s", err);
	cr_assert(strstr(err, "...\": "), "long value not cut: %s", err);
	cr_assert(strlen(err) < 600, "message too long: %zu", strlen(err));
}

Test(prefix, component_too_long)
{
	static char val[300];

	val[0] = '/';
	memset(val + 1, 'x', 256);
	nenv = 0;
	put("MEMSHIM_PREFIX", val);
	cr_assert_eq(load(), -EINVAL);
	cr_assert(strstr(err, "component longer than 255 bytes"), "%s", err);
}

Test(prefix, control_characters_are_escaped)
{
	bad_as("MEMSHIM_PREFIX", "mem\n\"x", "mem\\x0a\\\"x",
	       "\"mem\\x0a\\\"x\" is not an absolute path");
}

/* ---- MEMSHIM_QUOTA ---------------------------------------------------------------- */

Test(quota, plain_bytes)
{
	good("MEMSHIM_QUOTA", "4096");
	cr_assert_eq(c.max_bytes, 4096);
}

Test(quota, kilobytes)
{
	good("MEMSHIM_QUOTA", "512K");
	cr_assert_eq(c.max_bytes, 512ULL << 10);
}

Test(quota, megabytes)
{
	good("MEMSHIM_QUOTA", "64M");
	cr_assert_eq(c.max_bytes, 64 * MiB);
}

Test(quota, gigabytes)
{
	good("MEMSHIM_QUOTA", "2G");
	cr_assert_eq(c.max_bytes, 2 * GiB);
}

Test(quota, terabytes)
{
	good("MEMSHIM_QUOTA", "1T");
	cr_assert_eq(c.max_bytes, 1ULL << 40);
}

Test(quota, lower_case_unit)
{
	good("MEMSHIM_QUOTA", "64m");
	cr_assert_eq(c.max_bytes, 64 * MiB);
}

Test(quota, b_suffix)
{
	good("MEMSHIM_QUOTA", "64MB");
	cr_assert_eq(c.max_bytes, 64 * MiB);
}

Test(quota, ib_suffix)
{
	good("MEMSHIM_QUOTA", "2GiB");
	cr_assert_eq(c.max_bytes, 2 * GiB);
}

Test(quota, ib_suffix_any_case)
{
	good("MEMSHIM_QUOTA", "2gib");
	cr_assert_eq(c.max_bytes, 2 * GiB);
}

Test(quota, bytes_with_b)
{
	good("MEMSHIM_QUOTA", "4096B");
	cr_assert_eq(c.max_bytes, 4096);
}

Test(quota, zero_is_unlimited)
{
	good("MEMSHIM_QUOTA", "0");
	cr_assert_eq(c.max_bytes, 0);
}

Test(quota, percentage_of_probed_memory)
{
	use_fake_probe(GiB);
	good("MEMSHIM_QUOTA", "25%");
	cr_assert_eq(c.max_bytes, 256 * MiB);
	cr_assert_eq(fake_calls, 1);
	ms_guard_set_probe(NULL);
}

Test(quota, percentage_100)
{
	use_fake_probe(3 * GiB);
	good("MEMSHIM_QUOTA", "100%");
	cr_assert_eq(c.max_bytes, 3 * GiB);
}

Test(quota, percentage_1_rounds_down)
{
	use_fake_probe(1000);
	good("MEMSHIM_QUOTA", "1%");
	cr_assert_eq(c.max_bytes, 10);
}

Test(quota, percentage_of_huge_memory_does_not_overflow)
{
	use_fake_probe(UINT64_MAX);
	good("MEMSHIM_QUOTA", "50%");
	cr_assert_eq(c.max_bytes, UINT64_MAX / 2);
}

Test(quota, percentage_derives_nodes)
{
	use_fake_probe(GiB);
	good("MEMSHIM_QUOTA", "25%");
	cr_assert_eq(c.max_nodes, 256 * MiB / MS_BYTES_PER_DEFAULT_NODE);
}

Test(quota, exact_message_for_a_bad_size)
{
	nenv = 0;
	put("MEMSHIM_QUOTA", "12Q");
	cr_assert_eq(load(), -EINVAL);
	cr_assert_str_eq(err, "MEMSHIM_QUOTA=\"12Q\": not a size; use e.g. 64M, 2G, 512K or 25%");
}

Test(quota, fraction)
{
	bad("MEMSHIM_QUOTA", "1.5G", "not a size");
}

Test(quota, negative)
{
	bad("MEMSHIM_QUOTA", "-1", "not a size");
}

Test(quota, leading_space)
{
	bad("MEMSHIM_QUOTA", " 64M", "not a size");
}

Test(quota, trailing_space)
{
	bad("MEMSHIM_QUOTA", "64M ", "not a size");
}

Test(quota, space_before_unit)
{
	bad("MEMSHIM_QUOTA", "64 M", "not a size");
}

Test(quota, unit_without_number)
{
	bad("MEMSHIM_QUOTA", "M", "not a size");
}

Test(quota, doubled_unit)
{
	bad("MEMSHIM_QUOTA", "64KK", "not a size");
}

Test(quota, ib_without_unit)
{
	bad("MEMSHIM_QUOTA", "64iB", "not a size");
}

Test(quota, unknown_unit_p)
{
	bad("MEMSHIM_QUOTA", "1P", "not a size");
}

Test(quota, overflow_digits)
{
	bad("MEMSHIM_QUOTA", "18446744073709551616", "too large");
}

Test(quota, overflow_with_unit)
{
	bad("MEMSHIM_QUOTA", "16777216T", "too large");
}

Test(quota, percentage_zero)
{
	use_fake_probe(GiB);
	bad("MEMSHIM_QUOTA", "0%", "from 1 to 100");
}

Test(quota, percentage_over_100)
{
	use_fake_probe(GiB);
	bad("MEMSHIM_QUOTA", "101%", "from 1 to 100");
}

Test(quota, percentage_fraction)
{
	use_fake_probe(GiB);
	bad("MEMSHIM_QUOTA", "12.5%", "not a percentage");
}

Test(quota, percentage_alone)
{
	bad("MEMSHIM_QUOTA", "%", "not a percentage");
}

Test(quota, percentage_with_space)
{
	bad("MEMSHIM_QUOTA", "25 %", "not a percentage");
}

Test(quota, percentage_huge_number)
{
	bad("MEMSHIM_QUOTA", "99999999999999999999999%", "from 1 to 100");
}

Test(quota, percentage_when_probe_fails)
{
	use_fake_probe(GiB);
	fake_ret = -ENOENT;
	bad("MEMSHIM_QUOTA", "25%", "cannot measure the memory available (ENOENT)");
}

Test(quota, percentage_of_nearly_nothing)
{
	use_fake_probe(50);
	bad("MEMSHIM_QUOTA", "1%", "less than a byte");
}

/* ---- MEMSHIM_MAX_NODES and the derived limit ------------------------------------------- */

Test(nodes, explicit)
{
	good("MEMSHIM_MAX_NODES", "10000");
	cr_assert_eq(c.max_nodes, 10000);
}

Test(nodes, zero_is_unlimited)
{
	good("MEMSHIM_MAX_NODES", "0");
	cr_assert_eq(c.max_nodes, 0);
}

Test(nodes, explicit_overrides_derived)
{
	nenv = 0;
	put("MEMSHIM_QUOTA", "1G");
	put("MEMSHIM_MAX_NODES", "7");
	cr_assert_eq(load(), 0, "%s", err);
	cr_assert_eq(c.max_nodes, 7);
}

Test(nodes, derived_from_quota)
{
	good("MEMSHIM_QUOTA", "64M");
	cr_assert_eq(c.max_nodes, 64 * MiB / 4096);
}

Test(nodes, derived_minimum_is_16)
{
	good("MEMSHIM_QUOTA", "1K");
	cr_assert_eq(c.max_nodes, 16);
}

Test(nodes, derived_just_below_minimum_is_raised)
{
	good("MEMSHIM_QUOTA", "60K"); /* 15 nodes by the ratio */
	cr_assert_eq(c.max_nodes, 16);
}

Test(nodes, derived_just_above_minimum)
{
	good("MEMSHIM_QUOTA", "68K");
	cr_assert_eq(c.max_nodes, 17);
}

Test(nodes, unlimited_quota_gives_unlimited_nodes)
{
	good("MEMSHIM_QUOTA", "0");
	cr_assert_eq(c.max_nodes, 0);
}

Test(nodes, unlimited_quota_with_explicit_nodes)
{
	nenv = 0;
	put("MEMSHIM_QUOTA", "0");
	put("MEMSHIM_MAX_NODES", "500");
	cr_assert_eq(load(), 0, "%s", err);
	cr_assert_eq(c.max_bytes, 0);
	cr_assert_eq(c.max_nodes, 500);
}

Test(nodes, derived_is_capped_to_slot_indices)
{
	good("MEMSHIM_QUOTA", "16000000T");
	cr_assert(c.max_nodes > 0 && c.max_nodes < UINT32_MAX, "%llu",
		  (unsigned long long)c.max_nodes);
}

Test(nodes, not_a_number)
{
	bad("MEMSHIM_MAX_NODES", "lots", "not a whole number");
}

Test(nodes, negative)
{
	bad("MEMSHIM_MAX_NODES", "-5", "not a whole number");
}

Test(nodes, with_unit)
{
	bad("MEMSHIM_MAX_NODES", "10K", "not a whole number");
}

Test(nodes, scientific)
{
	bad("MEMSHIM_MAX_NODES", "1e6", "not a whole number");
}

Test(nodes, overflow)
{
	bad("MEMSHIM_MAX_NODES", "99999999999999999999", "too large");
}

Test(nodes, more_than_slot_indices)
{
	bad("MEMSHIM_MAX_NODES", "4294967296", "too large");
}

/* ---- MEMSHIM_QUOTA_ERRNO ---------------------------------------------------------------- */

Test(quota_errno, enospc)
{
	good("MEMSHIM_QUOTA_ERRNO", "ENOSPC");
	cr_assert_eq(c.quota_errno, ENOSPC);
}

Test(quota_errno, edquot)
{
	good("MEMSHIM_QUOTA_ERRNO", "EDQUOT");
	cr_assert_eq(c.quota_errno, EDQUOT);
}

Test(quota_errno, any_case)
{
	good("MEMSHIM_QUOTA_ERRNO", "edquot");
	cr_assert_eq(c.quota_errno, EDQUOT);
}

Test(quota_errno, other_errno)
{
	bad("MEMSHIM_QUOTA_ERRNO", "EIO", "not an errno the quota may use");
}

Test(quota_errno, number)
{
	bad("MEMSHIM_QUOTA_ERRNO", "28", "not an errno");
}

Test(quota_errno, prefix_of_a_name)
{
	bad("MEMSHIM_QUOTA_ERRNO", "ENOSP", "not an errno");
}

/* ---- MEMSHIM_GUARD, _ACTION, _INTERVAL --------------------------------------------------- */

Test(guard, none)
{
	good("MEMSHIM_GUARD", "none");
	cr_assert_eq(c.guard, MS_GUARD_NONE);
}

Test(guard, init)
{
	good("MEMSHIM_GUARD", "init");
	cr_assert_eq(c.guard, MS_GUARD_INIT);
}

Test(guard, per_write)
{
	good("MEMSHIM_GUARD", "per_write");
	cr_assert_eq(c.guard, MS_GUARD_PER_WRITE);
}

Test(guard, unknown_mode)
{
	bad("MEMSHIM_GUARD", "always", "not a guard mode");
}

Test(guard, per_write_with_dash)
{
	bad("MEMSHIM_GUARD", "per-write", "not a guard mode");
}

Test(guard_action, warn)
{
	good("MEMSHIM_GUARD_ACTION", "warn");
	cr_assert_eq(c.guard_action, MS_GUARD_WARN);
}

Test(guard_action, fail)
{
	good("MEMSHIM_GUARD_ACTION", "fail");
	cr_assert_eq(c.guard_action, MS_GUARD_FAIL);
}

Test(guard_action, unknown)
{
	bad("MEMSHIM_GUARD_ACTION", "abort", "not a guard action");
}

Test(interval, one_point_zero)
{
	good("MEMSHIM_GUARD_INTERVAL", "1.0");
	cr_assert_eq(c.guard_interval_ns, 1000000000ULL);
}

Test(interval, quarter)
{
	good("MEMSHIM_GUARD_INTERVAL", "0.25");
	cr_assert_eq(c.guard_interval_ns, 250000000ULL);
}

Test(interval, whole_seconds)
{
	good("MEMSHIM_GUARD_INTERVAL", "5");
	cr_assert_eq(c.guard_interval_ns, 5000000000ULL);
}

Test(interval, one_day)
{
	good("MEMSHIM_GUARD_INTERVAL", "86400");
	cr_assert_eq(c.guard_interval_ns, 86400ULL * 1000000000ULL);
}

Test(interval, one_nanosecond)
{
	good("MEMSHIM_GUARD_INTERVAL", "0.000000001");
	cr_assert_eq(c.guard_interval_ns, 1);
}

Test(interval, below_a_nanosecond_is_dropped)
{
	good("MEMSHIM_GUARD_INTERVAL", "0.0000000019");
	cr_assert_eq(c.guard_interval_ns, 1);
}

Test(interval, mixed)
{
	good("MEMSHIM_GUARD_INTERVAL", "12.125");
	cr_assert_eq(c.guard_interval_ns, 12125000000ULL);
}

Test(interval, zero)
{
	bad("MEMSHIM_GUARD_INTERVAL", "0", "more than 0");
}

Test(interval, zero_point_zero)
{
	bad("MEMSHIM_GUARD_INTERVAL", "0.0", "more than 0");
}

Test(interval, less_than_a_nanosecond)
{
	bad("MEMSHIM_GUARD_INTERVAL", "0.0000000001", "more than 0");
}

Test(interval, more_than_a_day)
{
	bad("MEMSHIM_GUARD_INTERVAL", "86400.5", "at most 86400");
}

Test(interval, far_more_than_a_day)
{
	bad("MEMSHIM_GUARD_INTERVAL", "999999999999999999999999", "at most 86400");
}

Test(interval, negative)
{
	bad("MEMSHIM_GUARD_INTERVAL", "-1", "not a number of seconds");
}

Test(interval, trailing_dot)
{
	bad("MEMSHIM_GUARD_INTERVAL", "1.", "not a number of seconds");
}

Test(interval, leading_dot)
{
	bad("MEMSHIM_GUARD_INTERVAL", ".5", "not a number of seconds");
}

Test(interval, comma_decimal)
{
	/* what strtod would take in a de_DE locale: never here */
	bad("MEMSHIM_GUARD_INTERVAL", "1,5", "not a number of seconds");
}

Test(interval, unit_suffix)
{
	bad("MEMSHIM_GUARD_INTERVAL", "1s", "not a number of seconds");
}

Test(interval, exponent)
{
	bad("MEMSHIM_GUARD_INTERVAL", "1e3", "not a number of seconds");
}

Test(interval, two_dots)
{
	bad("MEMSHIM_GUARD_INTERVAL", "1.2.3", "not a number of seconds");
}

/* ---- MEMSHIM_LOG ---------------------------------------------------------------------- */

Test(log_level, error)
{
	good("MEMSHIM_LOG", "error");
	cr_assert_eq(c.log_level, MS_LOG_ERROR);
}

Test(log_level, warn)
{
	good("MEMSHIM_LOG", "warn");
	cr_assert_eq(c.log_level, MS_LOG_WARN);
}

Test(log_level, info)
{
	good("MEMSHIM_LOG", "info");
	cr_assert_eq(c.log_level, MS_LOG_INFO);
}

Test(log_level, debug)
{
	good("MEMSHIM_LOG", "debug");
	cr_assert_eq(c.log_level, MS_LOG_DEBUG);
}

Test(log_level, upper_case)
{
	good("MEMSHIM_LOG", "DEBUG");
	cr_assert_eq(c.log_level, MS_LOG_DEBUG);
}

Test(log_level, unknown)
{
	bad("MEMSHIM_LOG", "verbose", "not a log level");
}

Test(log_level, number)
{
	bad("MEMSHIM_LOG", "3", "not a log level");
}

/* ---- MEMSHIM_STORE -------------------------------------------------------------------- */

Test(store, simple_name)
{
	good("MEMSHIM_STORE", "build-42");
	cr_assert_str_eq(c.store_name, "build-42");
}

Test(store, every_allowed_character)
{
	good("MEMSHIM_STORE", "aZ09._-");
	cr_assert_str_eq(c.store_name, "aZ09._-");
}

Test(store, longest)
{
	char val[64];

	memset(val, 'n', 63);
	val[63] = '\0';
	good("MEMSHIM_STORE", val);
	cr_assert_str_eq(c.store_name, val);
}

Test(store, too_long)
{
	char val[65];

	memset(val, 'n', 64);
	val[64] = '\0';
	bad("MEMSHIM_STORE", val, "longer than 63 characters");
}

Test(store, leading_dot)
{
	bad("MEMSHIM_STORE", ".hidden", "may not start with '.'");
}

Test(store, slash)
{
	bad("MEMSHIM_STORE", "a/b", "only letters, digits");
}

Test(store, space)
{
	bad("MEMSHIM_STORE", "my store", "only letters, digits");
}

Test(store, non_ascii)
{
	bad_as("MEMSHIM_STORE", "caf\xc3\xa9", "caf\\xc3\\xa9", "only letters, digits");
}

/* ---- order and buffers ------------------------------------------------------------------ */

Test(report, first_bad_variable_is_named)
{
	nenv = 0;
	put("MEMSHIM_LOG", "loud");
	put("MEMSHIM_QUOTA", "lots");
	cr_assert_eq(load(), -EINVAL);
	cr_assert(!strncmp(err, "MEMSHIM_QUOTA=", 14), "%s", err);
}

Test(report, small_error_buffer_is_cut_not_overrun)
{
	char small[16];

	memset(small, 'Z', sizeof(small));
	nenv = 0;
	put("MEMSHIM_QUOTA", "12Q");
	cr_assert_eq(ms_config_load(&c, fake_get, small, 10), -EINVAL);
	cr_assert_str_eq(small, "MEMSHIM_Q");
	cr_assert_eq(small[10], 'Z');
}

Test(report, null_error_buffer)
{
	nenv = 0;
	put("MEMSHIM_QUOTA", "12Q");
	cr_assert_eq(ms_config_load(&c, fake_get, NULL, 0), -EINVAL);
}

/* ---- ms_parse_size ------------------------------------------------------------------------ */

static uint64_t size_ok(const char *s)
{
	uint64_t v = 12345;

	cr_assert_eq(ms_parse_size(s, &v), 0, "\"%s\" refused", s);
	return v;
}

static void size_bad(const char *s)
{
	uint64_t v = 12345;

	cr_assert_eq(ms_parse_size(s, &v), -EINVAL, "\"%s\" accepted", s);
	cr_assert_eq(v, 12345, "\"%s\": *out written on failure", s);
}

Test(parse_size, zero)
{
	cr_assert_eq(size_ok("0"), 0);
}

Test(parse_size, zero_with_unit)
{
	cr_assert_eq(size_ok("0G"), 0);
}

Test(parse_size, leading_zeros)
{
	cr_assert_eq(size_ok("007K"), 7 << 10);
}

Test(parse_size, every_unit)
{
	cr_assert_eq(size_ok("3K"), 3ULL << 10);
	cr_assert_eq(size_ok("3M"), 3ULL << 20);
	cr_assert_eq(size_ok("3G"), 3ULL << 30);
	cr_assert_eq(size_ok("3T"), 3ULL << 40);
}

Test(parse_size, every_suffix_spelling)
{
	cr_assert_eq(size_ok("5k"), 5ULL << 10);
	cr_assert_eq(size_ok("5kb"), 5ULL << 10);
	cr_assert_eq(size_ok("5KB"), 5ULL << 10);
	cr_assert_eq(size_ok("5KiB"), 5ULL << 10);
	cr_assert_eq(size_ok("5kIb"), 5ULL << 10);
	cr_assert_eq(size_ok("5b"), 5);
}

Test(parse_size, largest)
{
	cr_assert_eq(size_ok("18446744073709551615"), UINT64_MAX);
	cr_assert_eq(size_ok("16777215T"), 16777215ULL << 40);
}

Test(parse_size, overflow)
{
	size_bad("18446744073709551616");
	size_bad("99999999999999999999999");
	size_bad("16777216T");
	size_bad("17179869184G");
}

Test(parse_size, fraction)
{
	size_bad("1.5G");
	size_bad("1.0");
}

Test(parse_size, malformed)
{
	size_bad("");
	size_bad("K");
	size_bad("B");
	size_bad("iB");
	size_bad("1iB");
	size_bad("1KBB");
	size_bad("1KiBx");
	size_bad("1Ki");
	size_bad("+1");
	size_bad("-1");
	size_bad(" 1");
	size_bad("1 ");
	size_bad("0x10");
	size_bad("1E");
	size_bad("25%");
}

Test(parse_size, null)
{
	size_bad(NULL);
}

/* ---- MEMSHIM_REPORT, MEMSHIM_CHART --------------------------------------- */

Test(config, report_is_stderr_or_an_absolute_path)
{
	good("MEMSHIM_REPORT", "-");
	cr_assert_str_eq(c.report, "-");
	good("MEMSHIM_REPORT", "//tmp//r.json");
	cr_assert_str_eq(c.report, "/tmp/r.json");
	bad("MEMSHIM_REPORT", "r.json", "not an absolute path");
	bad("MEMSHIM_REPORT", "/mem/r.json", "inside the store's prefix");
	bad("MEMSHIM_REPORT", "/tmp/../r.json", "'.' or '..'");
	bad("MEMSHIM_REPORT", "", "empty value");
	nenv = 0;
	cr_assert_eq(load(), 0);
	cr_assert_str_empty(c.report);
	cr_assert_str_empty(c.chart);
}

Test(config, chart_is_an_absolute_path)
{
	good("MEMSHIM_CHART", "/tmp/usage.svg");
	cr_assert_str_eq(c.chart, "/tmp/usage.svg");
	bad("MEMSHIM_CHART", "-", "not an absolute path");
	bad("MEMSHIM_CHART", "usage.svg", "not an absolute path");
	bad("MEMSHIM_CHART", "/mem/usage.svg", "inside the store's prefix");
}
