/* keeper/report.c — the end-of-run report (doc/report.md): the keeper
 * samples the store's usage while the tree runs and, when the tree has
 * ended, writes a short human summary to the creator's stderr, the JSON
 * report (MEMSHIM_REPORT) and the SVG chart (MEMSHIM_CHART). memshim-stat
 * prints the same JSON for a live store (without what only the keeper
 * saw: the samples and the files at the peak).
 *
 * Everything here runs in the keeper or a tool, never in libmemshim.so,
 * so stdio and malloc are fine.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keeper.h"
#include "server.h"

#define LD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define MS_SAMPLE_MS 100 /* the first interval between samples */
#define MS_REPORT_CHANGES 1000 /* paths of each kind of change in the JSON */
#define MS_SUMMARY_CHANGES 10  /* changes named in the summary */

static int64_t since_start_ms(const struct ms_store *s)
{
	int64_t d = ms_now_ns() - s->hdr->start_ns;
	return d > 0 ? d / 1000000 : 0;
}

/* ---- sampling -------------------------------------------------------------- */

struct top {
	struct ms_report_file f[MS_REPORT_TOP];
	int n;
};

static int keep_top(void *arg, const char *path, uint64_t size)
{
	struct top *t = arg;
	int i = t->n < MS_REPORT_TOP ? t->n++ : MS_REPORT_TOP - 1;
	if (i == MS_REPORT_TOP - 1 && t->n == MS_REPORT_TOP && size <= t->f[i].size)
		return 0;
	while (i > 0 && t->f[i - 1].size < size) {
		t->f[i] = t->f[i - 1];
		i--;
	}
	t->f[i].size = size;
	snprintf(t->f[i].path, sizeof(t->f[i].path), "%s", path);
	return 0;
}

void ms_report_sample(struct ms_store *s, struct ms_report *r, int force)
{
	struct ms_hdr *h = s->hdr;
	/* the last sample is the tree's end, not the keeper's grace period after */
	int64_t now = force && r->end_ns > h->start_ns ? (r->end_ns - h->start_ns) / 1000000
						       : since_start_ms(s);
	if (!r->interval_ms)
		r->interval_ms = MS_SAMPLE_MS;
	/* a refusal since the last sample (its process pokes the keeper) is
	 * sampled at once: the peak's files are still there */
	uint32_t refused = (uint32_t)LD(&h->ledger.refused);
	if (!force && r->n && now < r->last_ms + r->interval_ms &&
	    refused == r->samples[r->n - 1].refused)
		return;
	if (r->n == MS_REPORT_SAMPLES) {
		/* Full: every other sample goes and the rate halves, so a run of
		 * any length fits and keeps its shape. The last sample of the
		 * full ring stays: it is the newest figure. */
		uint32_t k = 0;
		for (uint32_t i = 0; i < r->n; i += 2)
			r->samples[k++] = r->samples[i];
		if (r->samples[k - 1].t_ms != r->samples[r->n - 1].t_ms)
			r->samples[k++] = r->samples[r->n - 1];
		r->n = k;
		r->interval_ms *= 2;
	}
	uint64_t used = LD(&h->ledger.used_bytes);
	r->samples[r->n].t_ms = (uint32_t)now;
	r->samples[r->n].bytes = used;
	r->samples[r->n].refused = refused;
	r->n++;
	r->last_ms = now;
	/* The biggest files at the highest usage seen: looked at again each
	 * time usage passes the last look (and the namespace lock is free:
	 * the keeper never waits for it). */
	/* A look walks every file under ns_lock (a million files: a good part
	 * of a second), so looks are spaced ten times their own length apart:
	 * the tree's processes wait for the lock a tenth of the time at most. */
	int64_t t0 = ms_now_ns();
	if ((used > r->peak_at_bytes || !r->peak_seen) && t0 >= r->walk_at_ns + 10 * r->walk_ns) {
		struct top t = {.n = 0};
		int got = ms_stats_files(s, MS_STATS_TRY, keep_top, &t);
		int64_t t1 = ms_now_ns();
		if (got != -EBUSY) {
			r->walk_ns = t1 - t0;
			r->walk_at_ns = t1;
		}
		if (got == 0) {
			memcpy(r->peak_files, t.f, sizeof(t.f));
			r->npeak = t.n;
			r->peak_at_bytes = used;
			r->peak_at_ms = now;
			r->peak_seen = 1;
		}
	}
}

/* ---- JSON --------------------------------------------------------------------- */

/* A JSON string: quotes, backslashes and control bytes escaped, valid
 * UTF-8 kept, any other byte as U+FFFD (names are bytes, JSON is text). */
static void jstr(FILE *f, const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	fputc('"', f);
	while (*u) {
		unsigned char c = *u;
		int n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
								: (c & 0xf8) == 0xf0 ? 4 : 0;
		for (int k = 1; k < n; k++)
			if ((u[k] & 0xc0) != 0x80)
				n = 0;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else if (n)
			fwrite(u, 1, (size_t)n, f);
		else
			fputs("\\ufffd", f);
		u += n ? n : 1;
	}
	fputc('"', f);
}

static double secs(int64_t ms) { return (double)ms / 1000.0; }

static double at_s(const struct ms_stats *st, int64_t ns)
{
	return ns ? (double)(ns - st->start_ns) / 1e9 : 0.0;
}

static void files_json(FILE *f, const struct ms_report_file *fl, int n)
{
	fputc('[', f);
	for (int i = 0; i < n; i++) {
		fprintf(f, "%s{\"path\": ", i ? ", " : "");
		jstr(f, fl[i].path);
		fprintf(f, ", \"size\": %llu}", (unsigned long long)fl[i].size);
	}
	fputc(']', f);
}

/* The guard's verdict at the end: does the quota fit in the memory this
 * machine (or container) has available now? */
/* The names a path has in the report: a directory ends in '/'. */
static const char *const change_kind[] = {"created", "modified", "deleted"};
static int change_index(int kind)
{
	return kind == MS_CHANGE_CREATED ? 0 : kind == MS_CHANGE_MODIFIED ? 1 : 2;
}

/* What the run changed below the store (MEMSHIM_LOWER), looked at once for
 * everything a report writes: the walk reads the real trees. `err` is
 * ms_changes_get's answer (non-zero: the list is what was found so far). */
struct changes {
	struct ms_changes c;
	int err;
};

/* MEMSHIM_LOWER: what the run changed below the store; null without it. */
static void changes_json(FILE *f, const struct changes *ch)
{
	const struct ms_changes *c = &ch->c;
	if (!c->nlower) {
		fputs("  \"changes\": null,\n", f);
		return;
	}
	fputs("  \"changes\": {\"lower\": [", f);
	for (int k = 0; k < c->nlower; k++) {
		fputs(k ? ", {\"prefix\": " : "{\"prefix\": ", f);
		jstr(f, c->lower[k].prefix ? c->lower[k].prefix : "");
		fputs(", \"dir\": ", f);
		jstr(f, c->lower[k].dir);
		fputs("}", f);
	}
	fprintf(f, "], \"complete\": %s", ch->err ? "false" : "true");
	for (int kind = 0; kind < 3; kind++) {
		fprintf(f, ",\n    \"%s\": {\"count\": %llu, \"paths\": [", change_kind[kind],
			(unsigned long long)c->count[kind]);
		int shown = 0;
		for (size_t i = 0; i < c->n && shown < MS_REPORT_CHANGES; i++) {
			if (change_index(c->v[i].kind) != kind)
				continue;
			char p[PATH_MAX + 2];
			snprintf(p, sizeof(p), "%s%s", c->v[i].path, S_ISDIR(c->v[i].mode) ? "/" : "");
			fputs(shown++ ? ", " : "", f);
			jstr(f, p);
		}
		fputs("]}", f);
	}
	fputs("},\n", f);
}

static const char *guard_verdict(const struct ms_hdr *h, uint64_t *avail)
{
	const char *src;
	*avail = 0;
	if (h->guard_mode == MS_GUARD_NONE)
		return "off";
	if (ms_probe_memory(avail, &src) < 0)
		return "unmeasured";
	if (!h->ledger.max_bytes || h->ledger.max_bytes > *avail)
		return "quota_exceeds_memory";
	return "fits";
}

/* "injected": MEMSHIM_FAIL's failures, every one counted, listed by kind
 * (the same rule, call, path, program and errno) with how many; those past
 * the first MS_INJECTED kinds, or of a process killed while recording one,
 * are "unlisted" (each was logged when injected). */
static void injected_json(FILE *f, struct ms_store *s, const struct ms_stats *st)
{
	struct ms_injected_stats in[MS_INJECTED];
	int k;
	uint32_t n = ms_stats_injected(s, in, MS_INJECTED, &k), listed = 0;
	fprintf(f, "  \"injected\": {\"count\": %u, \"kinds\": [", n);
	for (int i = 0; i < k; i++) {
		fprintf(f, "%s\n    {\"rule\": %d, \"call\": \"%s\", \"path\": ", i ? "," : "",
			in[i].rule, in[i].call);
		jstr(f, in[i].path);
		fputs(", \"program\": ", f);
		jstr(f, in[i].prog);
		fprintf(f, ", \"errno\": \"%s\", \"count\": %u, \"pid\": %lld, \"at_s\": %.3f}",
			in[i].err ? strerrorname_np(in[i].err) : "short", in[i].count,
			(long long)in[i].pid, at_s(st, in[i].t_ns));
		listed += in[i].count;
	}
	fprintf(f, "%s], \"unlisted\": %u},\n", k ? "\n  " : "", n > listed ? n - listed : 0);
}

static void report_json(FILE *f, struct ms_store *s, const struct ms_report *r, int final,
			const struct changes *ch)
{
	static const char *const guards[] = {"none", "init", "per_write"};
	struct ms_hdr *h = s->hdr;
	struct ms_stats st;
	struct ms_prog_stats progs[MS_PROGS];
	struct ms_refusal_stats refs[MS_REFUSALS];
	struct top end = {.n = 0};
	char started[64];
	uint64_t avail;

	ms_stats_get(s, &st);
	int np = ms_stats_progs(s, progs, MS_PROGS);
	int nr = ms_stats_refusals(s, refs, MS_REFUSALS);
	ms_stats_files(s, 0, keep_top, &end);
	time_t t0 = (time_t)(st.start_ns / 1000000000);
	struct tm tm;
	gmtime_r(&t0, &tm);
	strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", &tm);

	fprintf(f, "{\n  \"schema\": \"memshim-report/1\",\n  \"final\": %s,\n  \"store\": ",
		final ? "true" : "false");
	jstr(f, h->name);
	fprintf(f, ",\n  \"started\": \"%s\",\n  \"duration_s\": %.3f,\n", started,
		at_s(&st, r && r->end_ns ? r->end_ns : ms_now_ns()));
	fprintf(f, "  \"processes\": %llu,\n", (unsigned long long)st.attached);
	fprintf(f, "  \"limits\": {\"bytes\": %llu, \"nodes\": %llu, \"errno\": \"%s\"},\n",
		(unsigned long long)st.max_bytes, (unsigned long long)st.max_nodes,
		h->ledger.quota_errno == EDQUOT ? "EDQUOT" : "ENOSPC");
	fprintf(f, "  \"peak\": {\"bytes\": %llu, \"bytes_at_s\": %.3f, \"nodes\": %llu, "
		   "\"nodes_at_s\": %.3f},\n",
		(unsigned long long)st.peak_bytes, at_s(&st, st.peak_bytes_ns),
		(unsigned long long)st.peak_nodes, at_s(&st, st.peak_nodes_ns));
	fprintf(f, "  \"end\": {\"bytes\": %llu, \"nodes\": %llu, \"files\": %llu, "
		   "\"dirs\": %llu, \"symlinks\": %llu},\n",
		(unsigned long long)st.used_bytes, (unsigned long long)st.used_nodes,
		(unsigned long long)st.files, (unsigned long long)st.dirs,
		(unsigned long long)st.symlinks);
	fprintf(f, "  \"refusals\": {\"count\": %llu, \"largest\": %llu, \"guard\": %llu, "
		   "\"first\": [",
		(unsigned long long)st.refused, (unsigned long long)st.largest_refused,
		(unsigned long long)st.guard_refused);
	for (int i = 0; i < nr; i++) {
		fprintf(f, "%s\n    {\"path\": ", i ? "," : "");
		if (refs[i].path[0])
			jstr(f, refs[i].path);
		else
			fputs("null", f);
		fputs(", \"program\": ", f);
		jstr(f, refs[i].prog);
		fprintf(f, ", \"pid\": %lld, \"size\": %llu, \"kind\": \"%s\", \"at_s\": %.3f}",
			(long long)refs[i].pid, (unsigned long long)refs[i].size, refs[i].kind,
			at_s(&st, refs[i].t_ns));
	}
	fputs(nr ? "\n  ]},\n" : "]},\n", f);
	injected_json(f, s, &st);
	fputs("  \"programs\": [", f);
	for (int i = 0; i < np && i < MS_PROGS; i++) {
		fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
		jstr(f, progs[i].name);
		fprintf(f, ", \"processes\": %llu, \"bytes_written\": %llu, "
			   "\"peak_bytes_held\": %llu, \"bytes_held_at_end\": %llu}",
			(unsigned long long)progs[i].processes, (unsigned long long)progs[i].written,
			(unsigned long long)progs[i].peak_held, (unsigned long long)progs[i].held);
	}
	fputs(np ? "\n  ],\n" : "],\n", f);
	fputs("  \"biggest_files\": {\"at_end\": ", f);
	files_json(f, end.f, end.n);
	if (r && r->peak_seen) {
		fprintf(f, ", \"at_peak\": ");
		files_json(f, r->peak_files, r->npeak);
		fprintf(f, ", \"at_peak_bytes\": %llu, \"at_peak_s\": %.3f},\n",
			(unsigned long long)r->peak_at_bytes, secs(r->peak_at_ms));
	} else {
		fputs(", \"at_peak\": null, \"at_peak_bytes\": null, \"at_peak_s\": null},\n", f);
	}
	changes_json(f, ch);
	fprintf(f, "  \"uncounted_bytes\": %llu,\n", (unsigned long long)st.uncounted_bytes);
	const char *v = guard_verdict(h, &avail);
	fprintf(f, "  \"guard\": {\"mode\": \"%s\", \"action\": \"%s\", \"verdict\": \"%s\", "
		   "\"available_bytes\": %llu},\n",
		guards[h->guard_mode >= 0 && h->guard_mode < 3 ? h->guard_mode : 0],
		h->guard_action == MS_GUARD_FAIL ? "fail" : "warn", v, (unsigned long long)avail);
	fputs("  \"samples\": ", f);
	if (r) {
		fprintf(f, "{\"interval_s\": %.3f, \"points\": [", secs(r->interval_ms));
		for (uint32_t i = 0; i < r->n; i++)
			fprintf(f, "%s[%.3f, %llu, %u]", i ? ", " : "", secs(r->samples[i].t_ms),
				(unsigned long long)r->samples[i].bytes, r->samples[i].refused);
		fputs("]}\n", f);
	} else {
		fputs("null\n", f);
	}
	fputs("}\n", f);
}

void ms_report_json(FILE *f, struct ms_store *s, const struct ms_report *r, int final)
{
	struct changes ch;
	ch.err = ms_changes_get(s, &ch.c);
	report_json(f, s, r, final, &ch);
	ms_changes_free(&ch.c);
}

/* ---- the human summary --------------------------------------------------------- */

static const char *human(char *buf, size_t n, uint64_t b)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double v = (double)b;
	int u = 0;
	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
	return buf;
}

/* " x3" for a kind of failure injected three times, "" for once. */
static const char *count_times(char *buf, size_t n, uint32_t count)
{
	if (count == 1)
		return "";
	snprintf(buf, n, " x%u", count);
	return buf;
}

static int by_written(const void *a, const void *b)
{
	uint64_t x = ((const struct ms_prog_stats *)a)->written;
	uint64_t y = ((const struct ms_prog_stats *)b)->written;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* MEMSHIM_LOWER: the counts, and the first few changes as git status
 * shows them (+ created, ~ modified, - deleted). */
static void changes_summary(FILE *f, const struct changes *ch)
{
	static const char mark[] = "+~-";
	const struct ms_changes *c = &ch->c;
	for (int k = 0; k < c->nlower; k++)
		fprintf(f, "memshim:   over %s: %llu created, %llu modified, %llu deleted%s; "
			   "%s was not written\n",
			c->lower[k].prefix ? c->lower[k].prefix : "?", (unsigned long long)c->count[0],
			(unsigned long long)c->count[1], (unsigned long long)c->count[2],
			ch->err ? " (or more)" : "", c->lower[k].dir);
	for (size_t i = 0; i < c->n && i < MS_SUMMARY_CHANGES; i++)
		fprintf(f, "memshim:     %c %s%s\n", mark[change_index(c->v[i].kind)], c->v[i].path,
			S_ISDIR(c->v[i].mode) ? "/" : "");
	if (c->n > MS_SUMMARY_CHANGES)
		fprintf(f, "memshim:     ... %zu more (the JSON report lists up to %d of each kind)\n",
			c->n - MS_SUMMARY_CHANGES, MS_REPORT_CHANGES);
}

static void summary(FILE *f, struct ms_store *s, const struct ms_report *r,
		    const struct changes *ch)
{
	struct ms_stats st;
	struct ms_prog_stats progs[MS_PROGS];
	struct ms_refusal_stats refs[MS_REFUSALS];
	char a[32], b[32], c[32];
	ms_stats_get(s, &st);
	int np = ms_stats_progs(s, progs, MS_PROGS);
	int nr = ms_stats_refusals(s, refs, MS_REFUSALS);

	fprintf(f, "memshim: store %s: %.1f s, %llu process%s\n", s->hdr->name,
		at_s(&st, r->end_ns ? r->end_ns : ms_now_ns()), (unsigned long long)st.attached,
		st.attached == 1 ? "" : "es");
	if (st.max_bytes)
		fprintf(f, "memshim:   peak %s of %s (%.0f%%) at %.1f s; %llu nodes; %s in use at the end\n",
			human(a, sizeof(a), st.peak_bytes), human(b, sizeof(b), st.max_bytes),
			100.0 * (double)st.peak_bytes / (double)st.max_bytes,
			at_s(&st, st.peak_bytes_ns), (unsigned long long)st.peak_nodes,
			human(c, sizeof(c), st.used_bytes));
	else
		fprintf(f, "memshim:   peak %s (no quota) at %.1f s; %llu nodes; %s in use at the end\n",
			human(a, sizeof(a), st.peak_bytes), at_s(&st, st.peak_bytes_ns),
			(unsigned long long)st.peak_nodes, human(c, sizeof(c), st.used_bytes));
	if (st.refused || st.guard_refused) {
		fprintf(f, "memshim: !!! %llu WRITE%s REFUSED (largest %s asked; quota %s) !!!\n",
			(unsigned long long)(st.refused + st.guard_refused),
			st.refused + st.guard_refused == 1 ? "" : "S",
			human(a, sizeof(a), st.largest_refused),
			st.max_bytes ? human(b, sizeof(b), st.max_bytes) : "none");
		for (int i = 0; i < nr && i < 3; i++)
			fprintf(f, "memshim:   refused: %s (pid %lld) asked %s for %s (%s)\n",
				refs[i].prog[0] ? refs[i].prog : "?", (long long)refs[i].pid,
				human(a, sizeof(a), refs[i].size),
				refs[i].path[0] ? refs[i].path : "(path unknown)", refs[i].kind);
	} else {
		fprintf(f, "memshim:   no write refused\n");
	}
	struct ms_injected_stats in[MS_INJECTED];
	int nk;
	uint32_t ni = ms_stats_injected(s, in, MS_INJECTED, &nk);
	if (ni)
		fprintf(f, "memshim:   %u failure%s injected on purpose (MEMSHIM_FAIL)\n", ni,
			ni == 1 ? "" : "s");
	for (int i = 0; i < nk && i < 5; i++)
		fprintf(f, "memshim:   injected: rule %d, %s of %s: %s%s (%s, pid %lld)\n", in[i].rule,
			in[i].call, in[i].path, in[i].err ? strerrorname_np(in[i].err) : "short write",
			count_times(a, sizeof(a), in[i].count), in[i].prog[0] ? in[i].prog : "?",
			(long long)in[i].pid);
	if (nk > 5)
		fprintf(f, "memshim:   injected: %d more kinds (the JSON report lists them)\n", nk - 5);
	/* the five that wrote most; the JSON has them all */
	qsort(progs, (size_t)(np < MS_PROGS ? np : MS_PROGS), sizeof(progs[0]), by_written);
	for (int i = 0; i < np && i < 5 && progs[i].written; i++)
		fprintf(f, "memshim:   %s wrote %s, held at most %s\n", progs[i].name,
			human(a, sizeof(a), progs[i].written), human(b, sizeof(b), progs[i].peak_held));
	if (st.uncounted_bytes)
		fprintf(f, "memshim:   %s arrived past the shim (uncounted)\n",
			human(a, sizeof(a), st.uncounted_bytes));
	changes_summary(f, ch);
}

/* ---- the chart -------------------------------------------------------------------- */

#define W 800
#define H 320
#define PL 80 /* plot area: left, top, right, bottom margins */
#define PT 30
#define PR 20
#define PB 40

static void chart(FILE *f, struct ms_store *s, const struct ms_report *r)
{
	struct ms_hdr *h = s->hdr;
	struct ms_refusal_stats refs[MS_REFUSALS];
	char a[32];
	uint64_t quota = h->ledger.max_bytes, top = quota;
	double tmax = 0.001;
	for (uint32_t i = 0; i < r->n; i++) {
		if (r->samples[i].bytes > top)
			top = r->samples[i].bytes;
		if (secs(r->samples[i].t_ms) > tmax)
			tmax = secs(r->samples[i].t_ms);
	}
	if (!top)
		top = 1;
	double ymax = (double)top * 1.05, pw = W - PL - PR, ph = H - PT - PB;
#define X(t) (PL + (t) / tmax * pw)
#define Y(v) (PT + ph - (double)(v) / ymax * ph)
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		   "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
		W, H, W, H);
	fprintf(f, "<title>memshim store ");
	for (const char *p = h->name; *p; p++)
		fputc(*p == '<' || *p == '&' ? '_' : *p, f); /* names are [A-Za-z0-9._-] */
	fprintf(f, ": usage over %.1f s</title>\n", tmax);
	fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
		   "stroke=\"#999\"/>\n", PL, PT, pw, ph);
	fprintf(f, "<text x=\"%d\" y=\"18\">store usage (bytes) over time (s)</text>\n", PL);
	for (int k = 0; k <= 4; k++) {
		double v = ymax * k / 4;
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", PL - 6,
			Y(v) + 4, human(a, sizeof(a), (uint64_t)v));
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.1f</text>\n",
			X(tmax * k / 4), H - PB + 16, tmax * k / 4);
	}
	if (quota)
		fprintf(f, "<line id=\"quota\" x1=\"%d\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" "
			   "stroke=\"#c00\" stroke-dasharray=\"6 4\"/>\n"
			   "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#c00\">quota %s</text>\n",
			PL, Y(quota), PL + pw, Y(quota), PL + pw - 4, Y(quota) - 4,
			human(a, sizeof(a), quota));
	fprintf(f, "<polyline id=\"usage\" fill=\"none\" stroke=\"#06c\" stroke-width=\"1.5\" points=\"");
	for (uint32_t i = 0; i < r->n; i++)
		fprintf(f, "%s%.1f,%.1f", i ? " " : "", X(secs(r->samples[i].t_ms)),
			Y(r->samples[i].bytes));
	fputs("\"/>\n", f);
	/* Refusals: a mark at each sample whose count went up (every refusal
	 * lands in one), and one at each recorded refusal's own time. */
	for (uint32_t i = 0; i < r->n; i++) {
		uint32_t before = i ? r->samples[i - 1].refused : 0;
		if (r->samples[i].refused > before)
			fprintf(f, "<circle class=\"refusal\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" "
				   "fill=\"#c00\"><title>%u refused</title></circle>\n",
				X(secs(r->samples[i].t_ms)), Y(r->samples[i].bytes),
				r->samples[i].refused - before);
	}
	struct ms_stats st;
	ms_stats_get(s, &st);
	int nr = ms_stats_refusals(s, refs, MS_REFUSALS);
	for (int i = 0; i < nr; i++) {
		double t = at_s(&st, refs[i].t_ns);
		fprintf(f, "<line class=\"refusal\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.0f\" "
			   "stroke=\"#c00\" stroke-width=\"0.8\"><title>refused %s at %.2f s</title></line>\n",
			X(t), PT, X(t), PT + ph, human(a, sizeof(a), refs[i].size), t);
	}
	fputs("</svg>\n", f);
#undef X
#undef Y
}

/* ---- at the end ----------------------------------------------------------------------- */

/* What the keeper writes to a file at the end: the JSON or the chart. */
struct out {
	struct ms_store *s;
	const struct ms_report *r;
	const struct changes *ch;
};

static void out_json(FILE *f, const struct out *o) { report_json(f, o->s, o->r, 1, o->ch); }
static void out_chart(FILE *f, const struct out *o) { chart(f, o->s, o->r); }

/* Writes path (MEMSHIM_REPORT's or MEMSHIM_CHART's) through fn; a failure
 * is said on tty (when there is one) and returned as -errno. */
static int write_out(FILE *tty, const char *var, const char *path,
		     void (*fn)(FILE *, const struct out *), const struct out *o)
{
	int err = 0;
	FILE *f = fopen(path, "we");
	if (f) {
		fn(f, o);
		if (fclose(f))
			err = -errno;
	} else {
		err = -errno;
	}
	if (err && tty)
		fprintf(tty, "memshim: %s=%s: %s\n", var, path, strerror(-err));
	return err;
}

int ms_report_write(struct ms_store *s, struct ms_report *r)
{
	struct ms_hdr *h = s->hdr;
	struct changes ch;
	int err = 0;
	ms_report_sample(s, r, 1);
	ch.err = ms_changes_get(s, &ch.c);
	struct out o = {.s = s, .r = r, .ch = &ch};
	FILE *tty = NULL;
	if (h->summary) {
		int fd = fcntl(MS_KEEPER_REPORT_FD, F_DUPFD_CLOEXEC, 0);
		tty = fd >= 0 ? fdopen(fd, "w") : NULL;
	}
	if (tty) {
		summary(tty, s, r, &ch);
		if (!strcmp(h->report, "-"))
			out_json(tty, &o);
		fflush(tty);
	}
	if (h->report[0] && strcmp(h->report, "-"))
		err = write_out(tty, "MEMSHIM_REPORT", h->report, out_json, &o);
	if (h->chart[0]) {
		int e = write_out(tty, "MEMSHIM_CHART", h->chart, out_chart, &o);
		err = err ? err : e;
	}
	if (tty)
		fclose(tty);
	ms_changes_free(&ch.c);
	return err;
}
