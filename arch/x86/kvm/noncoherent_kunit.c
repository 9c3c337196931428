// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of the x86 non-coherent DMA policy's decisions
 * (noncoherent.h): the memory type of a guest mapping for every input,
 * and which changes of the non-coherent DMA count zap SPTEs.
 */
#include <kunit/test.h>

#include "noncoherent.h"

struct memtype_case {
	bool is_mmio;
	bool vm_noncoherent;
	bool ignore_pat_quirk;
	enum kvm_guest_memtype expected;
};

/* Every input, with the type 6.12's vmx_get_mt_mask() chose for it. */
static const struct memtype_case memtype_cases[] = {
	{ false, false, false, KVM_MEMTYPE_WB_GUEST_PAT },
	{ false, false, true,  KVM_MEMTYPE_WB_IGNORE_PAT },
	{ false, true,  false, KVM_MEMTYPE_WB_GUEST_PAT },
	{ false, true,  true,  KVM_MEMTYPE_WB_GUEST_PAT },
	{ true,  false, false, KVM_MEMTYPE_UC },
	{ true,  false, true,  KVM_MEMTYPE_UC },
	{ true,  true,  false, KVM_MEMTYPE_UC },
	{ true,  true,  true,  KVM_MEMTYPE_UC },
};

static void memtype_case_desc(const struct memtype_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s, %s, quirk %s",
		 c->is_mmio ? "MMIO" : "RAM",
		 c->vm_noncoherent ? "non-coherent DMA" : "coherent DMA",
		 c->ignore_pat_quirk ? "on" : "off");
}

KUNIT_ARRAY_PARAM(memtype, memtype_cases, memtype_case_desc);

static void memtype_every_input(struct kunit *test)
{
	const struct memtype_case *c = test->param_value;

	KUNIT_EXPECT_EQ(test, kvm_noncoherent_memtype(c->is_mmio, c->vm_noncoherent,
						      c->ignore_pat_quirk),
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

static struct kunit_case noncoherent_test_cases[] = {
	KUNIT_CASE_PARAM(memtype_every_input, memtype_gen_params),
	KUNIT_CASE_PARAM(count_change_zaps, zap_gen_params),
	{}
};

static struct kunit_suite noncoherent_test_suite = {
	.name = "kvm_x86_noncoherent",
	.test_cases = noncoherent_test_cases,
};

kunit_test_suite(noncoherent_test_suite);
