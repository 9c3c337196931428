// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of the x86 non-coherent DMA policy's decisions
 * (noncoherent.h): the memory type of a guest mapping for every input,
 * which changes of the non-coherent DMA count zap SPTEs, the range a
 * memslot change zaps, and where memslots may be flagged.
 */
#include <kunit/test.h>

#include "noncoherent.h"

struct memtype_case {
	bool is_mmio;
	bool slot_noncoherent;
	bool vm_noncoherent;
	bool ignore_pat_quirk;
	enum kvm_guest_memtype expected;
};

/*
 * Every input.  Those without a flagged memslot existed before the flag,
 * and get the type vmx_get_mt_mask() chose for them without it.
 */
static const struct memtype_case memtype_cases[] = {
	{ false, false, false, false, KVM_MEMTYPE_WB_GUEST_PAT },
	{ false, false, false, true,  KVM_MEMTYPE_WB_IGNORE_PAT },
	{ false, false, true,  false, KVM_MEMTYPE_WB_GUEST_PAT },
	{ false, false, true,  true,  KVM_MEMTYPE_WB_GUEST_PAT },
	{ true,  false, false, false, KVM_MEMTYPE_UC },
	{ true,  false, false, true,  KVM_MEMTYPE_UC },
	{ true,  false, true,  false, KVM_MEMTYPE_UC },
	{ true,  false, true,  true,  KVM_MEMTYPE_UC },
	/* A flagged memslot honours guest PAT whatever the VM and quirk. */
	{ false, true,  false, false, KVM_MEMTYPE_WB_GUEST_PAT },
	{ false, true,  false, true,  KVM_MEMTYPE_WB_GUEST_PAT },
	{ false, true,  true,  false, KVM_MEMTYPE_WB_GUEST_PAT },
	{ false, true,  true,  true,  KVM_MEMTYPE_WB_GUEST_PAT },
	{ true,  true,  false, false, KVM_MEMTYPE_UC },
	{ true,  true,  false, true,  KVM_MEMTYPE_UC },
	{ true,  true,  true,  false, KVM_MEMTYPE_UC },
	{ true,  true,  true,  true,  KVM_MEMTYPE_UC },
};

static void memtype_case_desc(const struct memtype_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s, %s memslot, %s, quirk %s",
		 c->is_mmio ? "MMIO" : "RAM",
		 c->slot_noncoherent ? "flagged" : "normal",
		 c->vm_noncoherent ? "non-coherent DMA" : "coherent DMA",
		 c->ignore_pat_quirk ? "on" : "off");
}

KUNIT_ARRAY_PARAM(memtype, memtype_cases, memtype_case_desc);

static void memtype_every_input(struct kunit *test)
{
	const struct memtype_case *c = test->param_value;

	KUNIT_EXPECT_EQ(test, kvm_noncoherent_memtype(c->is_mmio, c->slot_noncoherent,
						      c->vm_noncoherent, c->ignore_pat_quirk),
			c->expected);
}

struct zap_case {
	int old_count;
	int new_count;
	bool ignore_pat_quirk;
	bool zap;
};

/*
 * Only the first registration and the last unregistration change the
 * memory type of guest RAM, and only while the quirk is in effect.
 */
static const struct zap_case zap_cases[] = {
	{ 0, 1, true,  true },
	{ 1, 0, true,  true },
	{ 1, 2, true,  false },
	{ 2, 1, true,  false },
	{ 5, 6, true,  false },
	{ 0, 1, false, false },
	{ 1, 0, false, false },
	{ 1, 2, false, false },
	{ 2, 1, false, false },
};

static void zap_case_desc(const struct zap_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "count %d -> %d, quirk %s",
		 c->old_count, c->new_count, c->ignore_pat_quirk ? "on" : "off");
}

KUNIT_ARRAY_PARAM(zap, zap_cases, zap_case_desc);

static void count_change_zaps(struct kunit *test)
{
	const struct zap_case *c = test->param_value;

	KUNIT_EXPECT_EQ(test, kvm_noncoherent_count_zaps(c->old_count, c->new_count,
							 c->ignore_pat_quirk),
			c->zap);
}

#define NC	KVM_MEM_NON_COHERENT_DMA
#define LOG	KVM_MEM_LOG_DIRTY_PAGES

struct memslot_case {
	const char *name;
	enum kvm_mr_change change;
	u32 old_flags;
	u32 new_flags;
	bool zap;
};

/* Only a flag change that sets or clears NON_COHERENT_DMA zaps here. */
static const struct memslot_case memslot_cases[] = {
	{ "set the flag",		KVM_MR_FLAGS_ONLY, 0,	     NC,	true },
	{ "clear the flag",		KVM_MR_FLAGS_ONLY, NC,	     0,		true },
	{ "set it with dirty logging",	KVM_MR_FLAGS_ONLY, LOG,	     NC | LOG,	true },
	{ "dirty logging on, flagged",	KVM_MR_FLAGS_ONLY, NC,	     NC | LOG,	false },
	{ "dirty logging off, normal",	KVM_MR_FLAGS_ONLY, LOG,	     0,		false },
	{ "create a flagged memslot",	KVM_MR_CREATE,	   0,	     NC,	false },
	{ "delete a flagged memslot",	KVM_MR_DELETE,	   NC,	     0,		false },
	{ "move a flagged memslot",	KVM_MR_MOVE,	   NC,	     NC,	false },
};

static void memslot_case_desc(const struct memslot_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(memslot, memslot_cases, memslot_case_desc);

static void memslot_change_zaps_its_range(struct kunit *test)
{
	const struct memslot_case *c = test->param_value;
	struct kvm_memory_slot old = {
		.base_gfn = 0x100000, .npages = 512, .flags = c->old_flags,
	};
	struct kvm_memory_slot new = old;
	gfn_t start = 0, end = 0;
	bool zap;

	new.flags = c->new_flags;
	if (c->change == KVM_MR_MOVE)
		new.base_gfn = 0x200000;
	zap = kvm_noncoherent_memslot_zap(c->change == KVM_MR_CREATE ? NULL : &old,
					  c->change == KVM_MR_DELETE ? NULL : &new,
					  c->change, &start, &end);
	KUNIT_EXPECT_EQ(test, zap, c->zap);
	if (zap) {
		/* Exactly the memslot's range, never the whole VM. */
		KUNIT_EXPECT_EQ(test, start, 0x100000);
		KUNIT_EXPECT_EQ(test, end, 0x100000 + 512);
	}
}

/*
 * Flagged memslots only where the flag takes effect: EPT memory types set by
 * the TDP MMU, on a self-snooping CPU, in a VM of the default type.  Every
 * other combination (shadow paging, NPT, no self-snoop, every other VM
 * type, and a type unknown today) refuses the flag.
 */
static void memslots_supported_every_input(struct kunit *test)
{
	unsigned long vm_type;
	int bits;

	for (vm_type = KVM_X86_DEFAULT_VM; vm_type <= KVM_X86_SNP_VM + 2;
	     vm_type++) {
		for (bits = 0; bits < 8; bits++) {
			bool tdp_mmu = bits & 1, ept = bits & 2, ss = bits & 4;
			bool ok = kvm_noncoherent_memslots_supported(tdp_mmu, ept,
								     ss, vm_type);

			KUNIT_EXPECT_EQ_MSG(test, ok,
					    bits == 7 && vm_type == KVM_X86_DEFAULT_VM,
					    "tdp_mmu %d, EPT memory types %d, self-snoop %d, VM type %lu",
					    tdp_mmu, ept, ss, vm_type);
		}
	}
}

static struct kunit_case noncoherent_test_cases[] = {
	KUNIT_CASE_PARAM(memtype_every_input, memtype_gen_params),
	KUNIT_CASE_PARAM(count_change_zaps, zap_gen_params),
	KUNIT_CASE_PARAM(memslot_change_zaps_its_range, memslot_gen_params),
	KUNIT_CASE(memslots_supported_every_input),
	{}
};

static struct kunit_suite noncoherent_test_suite = {
	.name = "kvm_x86_noncoherent",
	.test_cases = noncoherent_test_cases,
};

kunit_test_suite(noncoherent_test_suite);
