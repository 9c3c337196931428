// SPDX-License-Identifier: GPL-2.0-only
/*
 * Watch the SPTEs of KVM's TDP MMU through the kvmmmu:kvm_tdp_mmu_spte_changed
 * tracepoint; see spte_trace.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "spte_trace.h"

#define SPTE_EVENT	"kvm_tdp_mmu_spte_changed"
#define SPTE_EVENT_DIR	"events/kvmmmu/" SPTE_EVENT
/* Per-CPU trace buffer size asked for while recording, in KiB. */
#define SPTE_BUFFER_KB	8192

static const char *tracefs(void)
{
	static const char *const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[256];
	int i;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof(path), "%s/" SPTE_EVENT_DIR "/enable", dirs[i]);
		if (!access(path, W_OK))
			return dirs[i];
	}
	return NULL;
}

static void tracefs_write(const char *file, const char *fmt, ...)
{
	char path[256], buf[512];
	const char *dir = tracefs();
	va_list ap;
	int fd, len;

	TEST_ASSERT(dir, "tracefs or the " SPTE_EVENT " event is gone");
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);

	fd = open(path, O_WRONLY | O_TRUNC);
	TEST_ASSERT(fd >= 0, "open(%s) failed, errno %d", path, errno);
	TEST_ASSERT(write(fd, buf, len) == len, "writing '%s' to %s failed, errno %d",
		    buf, path, errno);
	close(fd);
}

/* The whole content of a tracefs file, NUL-terminated; free() it. */
static char *tracefs_read(const char *file)
{
	char path[256];
	size_t size = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tracefs(), file);
	fd = open(path, O_RDONLY);
	TEST_ASSERT(fd >= 0 && buf, "open(%s) failed, errno %d", path, errno);
	while ((n = read(fd, buf + size, cap - size - 1)) > 0) {
		size += n;
		if (cap - size == 1) {
			cap *= 2;
			buf = realloc(buf, cap);
			TEST_ASSERT(buf, "out of memory reading %s", path);
		}
	}
	TEST_ASSERT(n == 0, "read(%s) failed, errno %d", path, errno);
	close(fd);
	buf[size] = '\0';
	return buf;
}

const char *spte_memtype_name(int memtype)
{
	switch (memtype) {
	case SPTE_MEMTYPE_UC: return "UC";
	case SPTE_MEMTYPE_WC: return "WC";
	case SPTE_MEMTYPE_WT: return "WT";
	case SPTE_MEMTYPE_WP: return "WP";
	case SPTE_MEMTYPE_WB: return "WB";
	default: return "?";
	}
}

void spte_trace_require(void)
{
	__TEST_REQUIRE(tracefs(), "tracefs with the kvmmmu:" SPTE_EVENT " event is needed");
	__TEST_REQUIRE(host_cpu_is_intel && kvm_is_tdp_enabled(),
		       "EPT is needed (kvm_intel.ept=Y)");
	__TEST_REQUIRE(get_kvm_param_bool("tdp_mmu"), "the TDP MMU is needed (kvm.tdp_mmu=Y)");
}

/*
 * The event's gfn is the first gfn an entry covers: an entry of level L is
 * in the range if it begins before its end and at or after its first gfn
 * rounded down to the level's size.
 */
static void filter_gfns(uint64_t first, uint64_t nr)
{
	char filter[256];
	int l, n;

	n = snprintf(filter, sizeof(filter), "gfn < 0x%lx && (gfn >= 0x%lx",
		     first + nr, first);
	for (l = 2; l <= 5; l++)
		n += snprintf(filter + n, sizeof(filter) - n,
			      " || (level == %d && gfn >= 0x%lx)",
			      l, first & ~(spte_level_pages(l) - 1));
	TEST_ASSERT(n + 1 < (int)sizeof(filter), "SPTE trace filter too long");
	strcat(filter, ")");
	tracefs_write(SPTE_EVENT_DIR "/filter", "%s", filter);
}

static const char *also_event, *also_functions;

static void also_event_enable(const char *on)
{
	char file[256];

	snprintf(file, sizeof(file), "events/%s/enable", also_event);
	tracefs_write(file, "%s", on);
}

void spte_trace_also(const char *event, const char *functions)
{
	also_event = event;
	also_functions = functions;
}

void spte_trace_start(uint64_t first_gfn, uint64_t nr_gfns)
{
	char *size;

	tracefs_write(SPTE_EVENT_DIR "/enable", "0");
	if (nr_gfns)
		filter_gfns(first_gfn, nr_gfns);
	else
		tracefs_write(SPTE_EVENT_DIR "/filter", "0");
	size = tracefs_read("buffer_size_kb");
	if (atoi(size) < SPTE_BUFFER_KB)
		tracefs_write("buffer_size_kb", "%d", SPTE_BUFFER_KB);
	free(size);
	if (also_functions) {
		tracefs_write("set_ftrace_filter", "%s", also_functions);
		tracefs_write("current_tracer", "function");
	}
	tracefs_write("trace", "");	/* O_TRUNC: empties the buffer */
	tracefs_write("tracing_on", "1");
	if (also_event)
		also_event_enable("1");
	tracefs_write(SPTE_EVENT_DIR "/enable", "1");
}

bool spte_trace_parse(const char *line, struct spte_change *c)
{
	line = strstr(line, SPTE_EVENT ": ");
	if (!line)
		return false;
	TEST_ASSERT(sscanf(line + strlen(SPTE_EVENT ": "),
			   "as id %d gfn %lx level %d old_spte %lx new_spte %lx",
			   &c->as_id, &c->gfn, &c->level, &c->old_spte, &c->new_spte) == 5,
		    "unexpected " SPTE_EVENT " line: %s", line);
	return true;
}

void spte_trace_stop(struct spte_trace *trace)
{
	unsigned long in_buffer = 0, written = 0;
	bool counted = false;
	struct spte_change c;
	char *text, *line, *next;
	int cap = 0;

	tracefs_write(SPTE_EVENT_DIR "/enable", "0");
	if (also_event)
		also_event_enable("0");
	tracefs_write("tracing_on", "0");
	text = tracefs_read("trace");
	tracefs_write("tracing_on", "1");
	tracefs_write(SPTE_EVENT_DIR "/filter", "0");

	memset(trace, 0, sizeof(*trace));
	if (also_event || also_functions)
		trace->text = strdup(text);
	if (also_functions) {
		/* After reading: a change of tracer empties the buffer. */
		tracefs_write("current_tracer", "nop");
		tracefs_write("set_ftrace_filter", "");
	}
	also_event = NULL;
	also_functions = NULL;
	for (line = text; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (line[0] == '#') {
			if (sscanf(line, "# entries-in-buffer/entries-written: %lu/%lu",
				   &in_buffer, &written) == 2)
				counted = true;
			continue;
		}
		if (!spte_trace_parse(line, &c))
			continue;
		if (trace->nr == cap) {
			cap = cap ? 2 * cap : 1024;
			trace->changes = realloc(trace->changes, cap * sizeof(c));
			TEST_ASSERT(trace->changes, "out of memory for %d SPTE changes", cap);
		}
		trace->changes[trace->nr++] = c;
	}
	free(text);
	TEST_ASSERT(counted, "no entries-in-buffer/entries-written line in the trace");
	TEST_ASSERT(in_buffer == written,
		    "the trace buffer lost SPTE changes (%lu of %lu kept): record fewer gfns",
		    in_buffer, written);
}

void spte_trace_free(struct spte_trace *trace)
{
	free(trace->changes);
	free(trace->text);
	memset(trace, 0, sizeof(*trace));
}

/*
 * Replay the changes over [first_gfn, first_gfn + nr_gfns): leaf[i] is the
 * change that last left a leaf entry over first_gfn + i, or NULL.  A present
 * non-leaf value over a leaf is a huge page split: its small entries keep the
 * huge entry's memory type, and the split itself does not trace them.
 */
static void replay(const struct spte_trace *trace, uint64_t first_gfn,
		   uint64_t nr_gfns, const struct spte_change **leaf)
{
	uint64_t lo, hi, g;
	int i;

	memset(leaf, 0, nr_gfns * sizeof(*leaf));
	for (i = 0; i < trace->nr; i++) {
		const struct spte_change *c = &trace->changes[i];

		if (c->as_id)
			continue;
		lo = c->gfn > first_gfn ? c->gfn : first_gfn;
		hi = c->gfn + spte_level_pages(c->level);
		if (hi > first_gfn + nr_gfns)
			hi = first_gfn + nr_gfns;
		for (g = lo; g < hi; g++) {
			if (spte_is_leaf(c->new_spte, c->level))
				leaf[g - first_gfn] = c;
			else if (!spte_present(c->new_spte))
				leaf[g - first_gfn] = NULL;
		}
	}
}

const struct spte_change *spte_trace_leaf(const struct spte_trace *trace, uint64_t gfn)
{
	const struct spte_change *leaf;

	replay(trace, gfn, 1, &leaf);
	return leaf;
}

uint64_t spte_trace_count(const struct spte_trace *trace, uint64_t first_gfn,
			  uint64_t nr_gfns, int memtype, bool ipat, uint64_t *mapped)
{
	const struct spte_change **leaf = calloc(nr_gfns, sizeof(*leaf));
	uint64_t i, n = 0, m = 0;

	TEST_ASSERT(leaf || !nr_gfns, "out of memory for %lu gfns", nr_gfns);
	replay(trace, first_gfn, nr_gfns, leaf);
	for (i = 0; i < nr_gfns; i++) {
		if (!leaf[i])
			continue;
		m++;
		if (spte_memtype(leaf[i]->new_spte) == memtype &&
		    spte_ipat(leaf[i]->new_spte) == ipat)
			n++;
	}
	free(leaf);
	if (mapped)
		*mapped = m;
	return n;
}

void spte_trace_dump(const struct spte_trace *trace)
{
	int i;

	for (i = 0; i < trace->nr; i++) {
		const struct spte_change *c = &trace->changes[i];

		if (!spte_is_leaf(c->new_spte, c->level))
			continue;
		printf("as %d gfn 0x%lx level %d spte 0x%lx: memtype %d (%s)%s\n",
		       c->as_id, c->gfn, c->level, c->new_spte,
		       spte_memtype(c->new_spte), spte_memtype_name(spte_memtype(c->new_spte)),
		       spte_ipat(c->new_spte) ? ", ignore PAT" : "");
	}
}
