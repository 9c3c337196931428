/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Watch, at runtime, the SPTEs that KVM's TDP MMU writes for guest memory.
 *
 * The kvmmmu:kvm_tdp_mmu_spte_changed tracepoint reports every change of a
 * TDP MMU entry with its gfn, level, old and new value.  spte_trace_start()
 * arms it through tracefs for a range of gfns, spte_trace_stop() reads back
 * what it recorded.  With EPT (Intel), bits 5:3 of a leaf entry are the
 * memory type KVM chose for the page and bit 6 says whether the guest's PAT
 * is ignored (IPAT); spte_memtype() and spte_ipat() decode them.
 *
 * Needs tracefs (/sys/kernel/tracing or /sys/kernel/debug/tracing), the
 * kvmmmu events, EPT and the TDP MMU; spte_trace_require() skips the test
 * otherwise.  Only one user at a time: the event and trace buffer are global.
 */
#ifndef SELFTEST_KVM_SPTE_TRACE_H
#define SELFTEST_KVM_SPTE_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/bits.h>

/* EPT leaf entry: memory type (bits 5:3) and ignore-PAT (bit 6). */
#define SPTE_EPT_MEMTYPE_SHIFT	3
#define SPTE_EPT_MEMTYPE_MASK	(7ull << SPTE_EPT_MEMTYPE_SHIFT)
#define SPTE_EPT_IPAT		BIT_ULL(6)
/* Bit 7 marks a 2M or 1G page in a level 2 or 3 entry. */
#define SPTE_LARGE_PAGE		BIT_ULL(7)
/*
 * KVM's own "present" bit, set in every entry it installs and clear in the
 * values it writes when zapping (not an architectural bit).
 */
#define SPTE_KVM_PRESENT	BIT_ULL(11)

/* Memory type encodings, the same in EPT entries, MTRRs and the PAT. */
#define SPTE_MEMTYPE_UC		0
#define SPTE_MEMTYPE_WC		1
#define SPTE_MEMTYPE_WT		4
#define SPTE_MEMTYPE_WP		5
#define SPTE_MEMTYPE_WB		6

/* One recorded change of an SPTE. */
struct spte_change {
	uint64_t gfn;		/* first gfn the entry maps */
	int level;		/* 1: 4K, 2: 2M, 3: 1G, higher: non-leaf only */
	int as_id;		/* address space: 0, or 1 for SMM */
	uint64_t old_spte;
	uint64_t new_spte;
};

/* What spte_trace_stop() read, in the order KVM made the changes. */
struct spte_trace {
	struct spte_change *changes;
	int nr;
	char *text;	/* the whole trace, when spte_trace_also() asked */
};

static inline int spte_memtype(uint64_t spte)
{
	return (spte & SPTE_EPT_MEMTYPE_MASK) >> SPTE_EPT_MEMTYPE_SHIFT;
}

static inline bool spte_ipat(uint64_t spte)
{
	return spte & SPTE_EPT_IPAT;
}

static inline bool spte_present(uint64_t spte)
{
	return spte & SPTE_KVM_PRESENT;
}

/* A present entry that maps memory rather than pointing to a table. */
static inline bool spte_is_leaf(uint64_t spte, int level)
{
	return spte_present(spte) && (level == 1 || (spte & SPTE_LARGE_PAGE));
}

/* Pages of 4K an entry of this level maps. */
static inline uint64_t spte_level_pages(int level)
{
	return 1ull << (9 * (level - 1));
}

/* "WB", "UC", ... or "?" for a reserved encoding. */
const char *spte_memtype_name(int memtype);

/* Skip the test unless the SPTEs can be watched as described above. */
void spte_trace_require(void);

/*
 * Clear the trace buffer and record the SPTE changes of gfns
 * [first_gfn, first_gfn + nr_gfns) (all gfns if nr_gfns is 0) until
 * spte_trace_stop().
 */
void spte_trace_start(uint64_t first_gfn, uint64_t nr_gfns);

/*
 * For the next spte_trace_start() only: record as well the tracepoint
 * @event ("system/name", or NULL) and, with the function tracer, the calls
 * of the kernel functions that match @functions (a set_ftrace_filter glob,
 * or NULL).  spte_trace_stop() then keeps the whole trace in trace->text,
 * one line per event or call in the order they happened; the tracer is
 * reset when it stops.
 */
void spte_trace_also(const char *event, const char *functions);

/*
 * Stop recording and parse what was recorded into @trace (release it with
 * spte_trace_free()).  Fails the test if the trace buffer lost events.
 */
void spte_trace_stop(struct spte_trace *trace);

/* Parse one line of the trace into @c if it is an SPTE change. */
bool spte_trace_parse(const char *line, struct spte_change *c);

void spte_trace_free(struct spte_trace *trace);

/*
 * The last change that left a leaf entry covering @gfn in address space 0,
 * or NULL if there was none or a later change zapped it.
 */
const struct spte_change *spte_trace_leaf(const struct spte_trace *trace,
					  uint64_t gfn);

/*
 * Count the pages of [first_gfn, first_gfn + nr_gfns) whose last leaf entry
 * (as above) has @memtype and the IPAT bit @ipat; *@mapped, if not NULL,
 * gets the number of pages with any last leaf entry.
 */
uint64_t spte_trace_count(const struct spte_trace *trace, uint64_t first_gfn,
			  uint64_t nr_gfns, int memtype, bool ipat,
			  uint64_t *mapped);

/* Print the leaf entries of the trace, one line each (for debugging). */
void spte_trace_dump(const struct spte_trace *trace);

#endif /* SELFTEST_KVM_SPTE_TRACE_H */
