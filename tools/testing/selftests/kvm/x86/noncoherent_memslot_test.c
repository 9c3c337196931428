// SPDX-License-Identifier: GPL-2.0
/*
 * noncoherent_memslot_test - memslots flagged KVM_MEM_NON_COHERENT_DMA.
 *
 * Which memslot changes KVM accepts with the flag and which it rejects
 * (leaving everything as it was), the statistics of flagged memslots,
 * the write-back of every page mapped into a flagged memslot and leaving
 * it (the latter only after the remote TLB flush that takes the page from
 * the guest), also when a huge page is rebuilt in place after dirty
 * logging, that flagged mappings are 2 MiB at most, that a
 * flag change zaps only the memslot whose flag changed, and that guest
 * WBINVD flushes while a memslot is flagged.  KVM offers the flag only where
 * it takes effect (VMX with EPT and the TDP MMU, on a self-snooping CPU);
 * elsewhere the capability reads 0, the flag fails with EINVAL, and every
 * other case skips.
 *
 * KVM_VFIO_NONCOHERENT_GROUP0, a VFIO group without enforced coherency,
 * is used to compare a flag change with a whole-VM non-coherent DMA edge;
 * without it that comparison is skipped.  A "memmap=<n>M$<address>" on the
 * kernel command line reserves RAM that the direct map leaves out: it is
 * mapped from /dev/mem into a flagged memslot (skipped without it).
 *
 * Sizes, small by default so that the test stays quick under emulation:
 *   NC_FIRST_TOUCH_MIB  memslots whose first touch is timed (default 8)
 *   NC_GUEST_MIB        guest memory in the flag-change case (default 32),
 *                       of which a 2 MiB memslot has its flag changed
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include <linux/kvm.h>

#include "kvm_util.h"
#include "processor.h"
#include "spte_trace.h"
#include "kselftest_harness.h"

#define NC		KVM_MEM_NON_COHERENT_DMA
#define SLOT_A		1
#define SLOT_B		2
#define GPA_A		(1ull << 32)
#define GPA_B		(GPA_A + (1ull << 30))
static uint64_t env_mib(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

/* Guest page-table pages that mapping @n pages with 4 KiB pages needs. */
#define PT_PAGES(n)	((n) / 256 + 512)

/* Each run, the guest writes one word in each page of this range. */
static uint64_t touch_gva, touch_npages;

static void guest_code(void)
{
	uint64_t i;

	for (;;) {
		for (i = 0; i < READ_ONCE(touch_npages); i++)
			WRITE_ONCE(*(uint64_t *)(READ_ONCE(touch_gva) + i * PAGE_SIZE), i);
		GUEST_SYNC(0);
	}
}

#define NO_FLAG_SUPPORT	"KVM_CAP_MEMSLOT_NON_COHERENT_DMA is 0: the flag has no effect here"
#define SPTE_EVENT_ENABLE \
	"/sys/kernel/tracing/events/kvmmmu/kvm_tdp_mmu_spte_changed/enable"

static uint64_t stat(struct kvm_vm *vm, const char *name)
{
	uint64_t value = ~0ull;

	kvm_get_stat(&vm->stats, name, &value, 1);
	TEST_ASSERT(value != ~0ull, "VM statistic %s is missing", name);
	return value;
}

static void add_slot(struct kvm_vm *vm, uint32_t slot, uint64_t gpa,
		     uint64_t npages, uint32_t flags)
{
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, gpa, slot, npages, flags);
	virt_map(vm, gpa, gpa, npages);
}

/* Let the guest write every page of [@gpa, +@npages); return the seconds. */
static double touch(struct kvm_vcpu *vcpu, uint64_t gpa, uint64_t npages)
{
	struct timespec t0, t1;
	struct ucall uc;

	touch_gva = gpa;
	touch_npages = npages;
	sync_global_to_guest(vcpu->vm, touch_gva);
	sync_global_to_guest(vcpu->vm, touch_npages);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	vcpu_run(vcpu);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	TEST_ASSERT_EQ(get_ucall(vcpu, &uc), UCALL_SYNC);
	return t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
}

TEST(flag_accepted_and_counted)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	void *hva;

	if (!kvm_has_cap(KVM_CAP_MEMSLOT_NON_COHERENT_DMA))
		SKIP(return, NO_FLAG_SUPPORT);
	vm = vm_create_with_one_vcpu(&vcpu, guest_code);

	add_slot(vm, SLOT_A, GPA_A, 16, NC);
	ASSERT_EQ(stat(vm, "noncoherent_memslots"), 1);
	ASSERT_EQ(stat(vm, "noncoherent_memslot_pages"), 16);

	/* Flag changes of an existing memslot are allowed both ways. */
	vm_mem_region_set_flags(vm, SLOT_A, 0);
	ASSERT_EQ(stat(vm, "noncoherent_memslots"), 0);
	ASSERT_EQ(stat(vm, "noncoherent_memslot_pages"), 0);
	vm_mem_region_set_flags(vm, SLOT_A, NC | KVM_MEM_LOG_DIRTY_PAGES);
	ASSERT_EQ(stat(vm, "noncoherent_memslots"), 1);
	vm_mem_region_set_flags(vm, SLOT_A, NC);

	/* KVM_SET_USER_MEMORY_REGION (v1) takes the flag too, with READONLY. */
	hva = addr_gpa2hva(vm, GPA_A);
	ASSERT_EQ(__vm_set_user_memory_region(vm, SLOT_B, NC | KVM_MEM_READONLY,
					      GPA_B, 16 * PAGE_SIZE, hva), 0);
	ASSERT_EQ(stat(vm, "noncoherent_memslots"), 2);
	ASSERT_EQ(stat(vm, "noncoherent_memslot_pages"), 32);
	ASSERT_EQ(__vm_set_user_memory_region(vm, SLOT_B, 0, GPA_B, 0, hva), 0);

	vm_mem_region_delete(vm, SLOT_A);
	ASSERT_EQ(stat(vm, "noncoherent_memslots"), 0);
	ASSERT_EQ(stat(vm, "noncoherent_memslot_pages"), 0);
	kvm_vm_free(vm);
}

static void guest_wbinvd(void)
{
	for (;;) {
		asm volatile("wbinvd" ::: "memory");
		GUEST_SYNC(0);
	}
}

/* Run one guest WBINVD; return the flushes KVM did for it (0 or 1). */
static uint64_t wbinvd_flushes(struct kvm_vcpu *vcpu)
{
	uint64_t exits = vcpu_get_stat(vcpu, wbinvd_exits);
	uint64_t flushes = vcpu_get_stat(vcpu, wbinvd_flushes);
	struct ucall uc;

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	TEST_ASSERT_EQ(get_ucall(vcpu, &uc), UCALL_SYNC);
	TEST_ASSERT_EQ(vcpu_get_stat(vcpu, wbinvd_exits), exits + 1);
	return vcpu_get_stat(vcpu, wbinvd_flushes) - flushes;
}

/*
 * A flagged memslot is a DMA source that bypasses the caches, so a guest
 * WBINVD writes back while the VM has one, with no VFIO file at all, and
 * is a no-op again once no memslot is flagged.
 */
TEST(wbinvd_flushes_while_a_memslot_is_flagged)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	if (!kvm_has_cap(KVM_CAP_MEMSLOT_NON_COHERENT_DMA))
		SKIP(return, NO_FLAG_SUPPORT);
	vm = vm_create_with_one_vcpu(&vcpu, guest_wbinvd);
	ASSERT_EQ(stat(vm, "noncoherent_dma"), 0);

	ASSERT_EQ(wbinvd_flushes(vcpu), 0);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, GPA_A, SLOT_A, 16, NC);
	ASSERT_EQ(wbinvd_flushes(vcpu), 1);
	vm_mem_region_set_flags(vm, SLOT_A, 0);
	ASSERT_EQ(wbinvd_flushes(vcpu), 0);
	vm_mem_region_set_flags(vm, SLOT_A, NC);
	ASSERT_EQ(wbinvd_flushes(vcpu), 1);
	vm_mem_region_delete(vm, SLOT_A);
	ASSERT_EQ(wbinvd_flushes(vcpu), 0);
	ASSERT_EQ(stat(vm, "noncoherent_dma"), 0);
	kvm_vm_free(vm);
}

/* The CPU snoops its own caches, as the host kernel sees it (clearcpuid=). */
static bool host_self_snoop(void)
{
	char line[4096];
	bool ss = false;
	FILE *f;

	f = fopen("/proc/cpuinfo", "r");
	TEST_ASSERT(f, "/proc/cpuinfo: %s", strerror(errno));
	while (!ss && fgets(line, sizeof(line), f))
		ss = !strncmp(line, "flags", 5) && strstr(line, " ss ");
	fclose(f);
	return ss;
}

/*
 * The documented rule: the flag is offered, for a VM of the default type,
 * on Intel with EPT and the TDP MMU, on a self-snooping CPU.  The vendor
 * decides which of kvm_intel and kvm_amd runs, as in kvm_is_tdp_enabled()
 * (/sys/module/kvm_intel also exists where kvm_intel is built in unused).
 */
static bool flag_offered(void)
{
	bool intel = host_cpu_is_intel, tdp = kvm_is_tdp_enabled();
	bool tdp_mmu = get_kvm_param_bool("tdp_mmu"), ss = host_self_snoop();

	ksft_print_msg("Intel %d, EPT/NPT %d, tdp_mmu %d, self-snoop %d: flag %s\n",
		       intel, tdp, tdp_mmu, ss,
		       intel && tdp && tdp_mmu && ss ? "offered" : "refused");
	return intel && tdp && tdp_mmu && ss;
}

/*
 * KVM_CAP_MEMSLOT_NON_COHERENT_DMA says, per VM, whether the flag takes
 * effect, and where it does not the flag fails with EINVAL and leaves no
 * memslot behind.  Run with kvm_intel.ept=0 and kvm.tdp_mmu=0 too.
 */
TEST(capability_matches_where_the_flag_works)
{
	const uint64_t size = 16 * PAGE_SIZE;
	bool offered = flag_offered();
	struct kvm_vm *vm;
	void *hva;
	int r;

	ASSERT_EQ(kvm_check_cap(KVM_CAP_MEMSLOT_NON_COHERENT_DMA), offered);
	vm = vm_create_barebones();
	ASSERT_EQ(vm_check_cap(vm, KVM_CAP_MEMSLOT_NON_COHERENT_DMA), offered);
	hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(hva, MAP_FAILED);

	r = __vm_set_user_memory_region(vm, SLOT_A, NC, GPA_A, size, hva);
	if (offered) {
		ASSERT_EQ(r, 0);
		ASSERT_EQ(stat(vm, "noncoherent_memslots"), 1);
	} else {
		ASSERT_TRUE(r == -1 && errno == EINVAL);
		r = __vm_set_user_memory_region2(vm, SLOT_A, NC, GPA_A, size, hva, 0, 0);
		ASSERT_TRUE(r == -1 && errno == EINVAL);
		ASSERT_EQ(stat(vm, "noncoherent_memslots"), 0);
		/*
		 * Nothing was created: a memslot of another size in the same
		 * id is new (an existing one cannot change its size).
		 */
		ASSERT_EQ(__vm_set_user_memory_region(vm, SLOT_A, 0, GPA_A, size / 2, hva), 0);
		/* And the flag cannot be set on it afterwards either. */
		r = __vm_set_user_memory_region(vm, SLOT_A, NC, GPA_A, size / 2, hva);
		ASSERT_TRUE(r == -1 && errno == EINVAL);
	}
	kvm_vm_free(vm);

	/* Other VM types never take the flag (they may have private memory). */
	if (kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)) {
		vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
		ASSERT_EQ(vm_check_cap(vm, KVM_CAP_MEMSLOT_NON_COHERENT_DMA), 0);
		r = __vm_set_user_memory_region(vm, SLOT_A, NC, GPA_A, size, hva);
		ASSERT_TRUE(r == -1 && errno == EINVAL);
		kvm_vm_free(vm);
	} else {
		ksft_print_msg("no KVM_X86_SW_PROTECTED_VM: other VM types not tried\n");
	}
	munmap(hva, size);
}

TEST(invalid_changes_change_nothing)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	void *hva;
	int r;

	if (!kvm_has_cap(KVM_CAP_MEMSLOT_NON_COHERENT_DMA))
		SKIP(return, NO_FLAG_SUPPORT);
	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	add_slot(vm, SLOT_A, GPA_A, 16, NC);
	hva = addr_gpa2hva(vm, GPA_A);

	/* READONLY cannot change on an existing memslot, flagged or not. */
	r = __vm_set_user_memory_region2(vm, SLOT_A, NC | KVM_MEM_READONLY,
					 GPA_A, 16 * PAGE_SIZE, hva, 0, 0);
	ASSERT_TRUE(r == -1 && errno == EINVAL);
	/* Neither can the size. */
	r = __vm_set_user_memory_region2(vm, SLOT_A, 0, GPA_A, 32 * PAGE_SIZE,
					 hva, 0, 0);
	ASSERT_TRUE(r == -1 && errno == EINVAL);
	/* An unknown bit next to the flag. */
	r = __vm_set_user_memory_region2(vm, SLOT_A, NC | BIT(4), GPA_A,
					 16 * PAGE_SIZE, hva, 0, 0);
	ASSERT_TRUE(r == -1 && errno == EINVAL);

	ASSERT_EQ(stat(vm, "noncoherent_memslots"), 1);
	ASSERT_EQ(stat(vm, "noncoherent_memslot_pages"), 16);
	/* The memslot still works and is still flagged. */
	touch(vcpu, GPA_A, 16);
	ASSERT_EQ(stat(vm, "noncoherent_writebacks"), 16);
	kvm_vm_free(vm);
}

/*
 * First touch of a flagged memslot and of a normal one: only the flagged
 * pages are written back, once as they are mapped and once as they leave
 * (here, when the memslot is deleted).
 */
TEST(writebacks_for_flagged_pages_only)
{
	const uint64_t mib = env_mib("NC_FIRST_TOUCH_MIB", 8);
	const uint64_t npages = (mib << 20) / PAGE_SIZE;
	uint64_t expected = npages;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	double t_normal, t_flagged;

	if (!kvm_has_cap(KVM_CAP_MEMSLOT_NON_COHERENT_DMA))
		SKIP(return, NO_FLAG_SUPPORT);
	vm = __vm_create_with_one_vcpu(&vcpu, PT_PAGES(2 * npages), guest_code);
	add_slot(vm, SLOT_A, GPA_A, npages, NC);
	add_slot(vm, SLOT_B, GPA_B, npages, 0);

	t_normal = touch(vcpu, GPA_B, npages);
	ASSERT_EQ(stat(vm, "noncoherent_writebacks"), 0);
	t_flagged = touch(vcpu, GPA_A, npages);
	ksft_print_msg("first touch of %lu MiB: normal %.3f s, flagged %.3f s, %lu written back\n",
		       mib, t_normal, t_flagged, stat(vm, "noncoherent_writebacks"));
	ASSERT_EQ(stat(vm, "noncoherent_writebacks"), expected);

	/* Touching again maps nothing new: no more write-backs. */
	touch(vcpu, GPA_A, npages);
	ASSERT_EQ(stat(vm, "noncoherent_writebacks"), expected);

	/*
	 * Deleting the normal memslot may zap every SPTE of the VM (the
	 * KVM_X86_QUIRK_SLOT_ZAP_ALL default), flagged ones included: each
	 * flagged page leaves exactly once, whichever deletion drops it.
	 */
	vm_mem_region_delete(vm, SLOT_B);
	vm_mem_region_delete(vm, SLOT_A);
	ASSERT_EQ(stat(vm, "noncoherent_writebacks"), 2 * expected);
	kvm_vm_free(vm);
}

/*
 * Stopping dirty logging lets KVM map a flagged memslot with huge pages
 * again, by building a huge SPTE in place of a page table of small ones.
 * The huge SPTE also maps pages that no small SPTE mapped, which were never
 * written back: KVM writes back the whole range before installing it.
 */
TEST(huge_page_recovery_writes_back)
{
	const uint64_t npages = (2ull << 20) / PAGE_SIZE;
	uint64_t wb, huge;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	if (!kvm_has_cap(KVM_CAP_MEMSLOT_NON_COHERENT_DMA))
		SKIP(return, NO_FLAG_SUPPORT);
	vm = __vm_create_with_one_vcpu(&vcpu, PT_PAGES(npages), guest_code);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS_THP, GPA_A, SLOT_A,
				    npages, NC | KVM_MEM_LOG_DIRTY_PAGES);
	virt_map(vm, GPA_A, GPA_A, npages);

	/* Dirty logging maps the one page touched with a small SPTE. */
	touch(vcpu, GPA_A, 1);
	wb = stat(vm, "noncoherent_writebacks");
	ASSERT_EQ(wb, 1);
	huge = stat(vm, "pages_2m");

	vm_mem_region_set_flags(vm, SLOT_A, NC);
	if (stat(vm, "pages_2m") == huge)
		SKIP(goto out, "no huge SPTE rebuilt after dirty logging (%s)",
		     "no THP, or a kernel that zaps");
	ksft_print_msg("huge page recovered: %lu pages written back\n",
		       stat(vm, "noncoherent_writebacks") - wb);
	ASSERT_GE(stat(vm, "noncoherent_writebacks"), wb + npages);
out:
	kvm_vm_free(vm);
}

/*
 * Deleting a memslot that has nothing to do with a flagged one must not
 * cost write-backs of the flagged memory: its pages stay where they are,
 * with the same memory type, whatever KVM zaps on the way
 * (KVM_X86_QUIRK_SLOT_ZAP_ALL, on by default, zaps every SPTE).
 */
static double delete_slot(struct kvm_vm *vm, uint32_t slot)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	vm_mem_region_delete(vm, slot);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
}

/*
 * Deleting a memslot other than the flagged one.  With
 * KVM_X86_QUIRK_SLOT_ZAP_ALL in effect (the default) KVM zaps every
 * mapping, so the flagged pages are written back as they go and again as
 * the guest faults them back in: the documented cost.  With the quirk
 * disabled, as the documentation advises VMMs that flag memslots, only the
 * deleted memslot is zapped and nothing is written back.
 */
TEST(unrelated_memslot_delete_writes_nothing_back)
{
	const uint64_t mib = env_mib("NC_FIRST_TOUCH_MIB", 8);
	const uint64_t npages = (mib << 20) / PAGE_SIZE;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t wb;
	double t;

	if (!kvm_has_cap(KVM_CAP_MEMSLOT_NON_COHERENT_DMA))
		SKIP(return, NO_FLAG_SUPPORT);
	vm = __vm_create_with_one_vcpu(&vcpu, PT_PAGES(npages + 32), guest_code);
	if (!(vm_check_cap(vm, KVM_CAP_DISABLE_QUIRKS2) & KVM_X86_QUIRK_SLOT_ZAP_ALL)) {
		kvm_vm_free(vm);
		SKIP(return, "KVM_X86_QUIRK_SLOT_ZAP_ALL cannot be disabled here");
	}
	add_slot(vm, SLOT_A, GPA_A, npages, NC);
	add_slot(vm, SLOT_B, GPA_B, 16, 0);
	add_slot(vm, SLOT_B + 1, GPA_B + (1ull << 30), 16, 0);
	touch(vcpu, GPA_A, npages);
	wb = stat(vm, "noncoherent_writebacks");
	ASSERT_EQ(wb, npages);

	/* The quirk in effect: all of memslot A leaves and comes back. */
	t = delete_slot(vm, SLOT_B);
	touch(vcpu, GPA_A, npages);
	ksft_print_msg("%lu MiB flagged, quirk on: deletion %.3f s, %lu pages written back\n",
		       mib, t, stat(vm, "noncoherent_writebacks") - wb);
	ASSERT_EQ(stat(vm, "noncoherent_writebacks"), wb + 2 * npages);

	/* The quirk disabled: memslot A keeps its mappings. */
	vm_enable_cap(vm, KVM_CAP_DISABLE_QUIRKS2, KVM_X86_QUIRK_SLOT_ZAP_ALL);
	wb = stat(vm, "noncoherent_writebacks");
	t = delete_slot(vm, SLOT_B + 1);
	touch(vcpu, GPA_A, npages);
	ksft_print_msg("%lu MiB flagged, quirk off: deletion %.3f s, %lu pages written back\n",
		       mib, t, stat(vm, "noncoherent_writebacks") - wb);
	ASSERT_EQ(stat(vm, "noncoherent_writebacks"), wb);
	kvm_vm_free(vm);
}

/* Free 1 GiB huge pages of the host, 0 if it has none. */
static uint64_t free_1g_pages(void)
{
	FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages", "r");
	uint64_t n = 0;

	if (f) {
		if (fscanf(f, "%lu", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n;
}

/* Back memslot A with one 1 GiB page, touch its first page. */
static void touch_1g_slot(struct kvm_vm *vm, struct kvm_vcpu *vcpu, uint32_t flags)
{
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS_HUGETLB_1GB, GPA_A, SLOT_A,
				    (1ull << 30) / PAGE_SIZE, flags);
	virt_map(vm, GPA_A, GPA_A, 1);
	touch(vcpu, GPA_A, 1);
}

/*
 * A flagged memslot is mapped with pages of 2 MiB at most, also where the
 * host backs it with 1 GiB pages: a mapping is written back whole with
 * mmu_lock held as it is made, which takes 20-47 ms for 1 GiB.  The same
 * page in an unflagged memslot shows that KVM maps 1 GiB pages here.
 */
TEST(flagged_mappings_at_most_2m)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	if (!kvm_has_cap(KVM_CAP_MEMSLOT_NON_COHERENT_DMA))
		SKIP(return, NO_FLAG_SUPPORT);
	if (!free_1g_pages())
		SKIP(return, "no free 1 GiB huge page (hugepagesz=1G hugepages=1)");
	vm = __vm_create_with_one_vcpu(&vcpu, PT_PAGES(512), guest_code);

	touch_1g_slot(vm, vcpu, 0);
	if (stat(vm, "pages_1g") != 1) {
		kvm_vm_free(vm);
		SKIP(return, "KVM maps no 1 GiB page here (no 1G pages in EPT?)");
	}
	vm_mem_region_delete(vm, SLOT_A);
	ASSERT_EQ(stat(vm, "pages_1g"), 0);

	touch_1g_slot(vm, vcpu, NC);
	ksft_print_msg("1 GiB page flagged: %lu 1G and %lu 2M mappings, %lu pages written back\n",
		       stat(vm, "pages_1g"), stat(vm, "pages_2m"),
		       stat(vm, "noncoherent_writebacks"));
	ASSERT_EQ(stat(vm, "pages_1g"), 0);
	ASSERT_EQ(stat(vm, "noncoherent_writebacks"), 512);
	kvm_vm_free(vm);
}

/* KVM's software bit in the SPTE of a flagged mapping. */
#define SPTE_NONCOHERENT_DMA	BIT_ULL(59)

/*
 * Replay a trace of SPTE changes, remote TLB flushes and write-backs of
 * [@gfn0, +@npages): count the pages written back as they left a flagged
 * mapping, and among them those written back before a remote TLB flush
 * followed the SPTE change (a vCPU could still store to them then).
 */
static void leaving_writebacks(const char *text, uint64_t gfn0, uint64_t npages,
			       uint64_t *written, uint64_t *early)
{
	enum { MAPPED, LEFT, FLUSHED } *state = calloc(npages, sizeof(*state));
	char *copy = strdup(text), *line, *next, *p;
	uint64_t g, gfn, pfn, pages;
	struct spte_change c;

	TEST_ASSERT(state && copy, "out of memory");
	*written = *early = 0;
	for (line = copy; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		p = strstr(line, "kvm_noncoherent_writeback: ");
		if (spte_trace_parse(line, &c)) {
			bool left = !spte_present(c.new_spte) ||
				    (spte_is_leaf(c.new_spte, c.level) &&
				     !(c.new_spte & SPTE_NONCOHERENT_DMA));

			if (c.as_id || !spte_is_leaf(c.old_spte, c.level) ||
			    !(c.old_spte & SPTE_NONCOHERENT_DMA) || !left)
				continue;
			for (g = c.gfn; g < c.gfn + spte_level_pages(c.level); g++)
				if (g >= gfn0 && g < gfn0 + npages)
					state[g - gfn0] = LEFT;
		} else if (strstr(line, ": kvm_flush_remote_tlbs")) {
			for (g = 0; g < npages; g++)
				if (state[g] == LEFT)
					state[g] = FLUSHED;
		} else if (p && strstr(p, "leaving")) {
			TEST_ASSERT(sscanf(p, "kvm_noncoherent_writeback: gfn %lx pfn %lx: %lu",
					   &gfn, &pfn, &pages) == 3,
				    "unexpected write-back line: %s", line);
			for (g = gfn; g < gfn + pages; g++) {
				if (g < gfn0 || g >= gfn0 + npages)
					continue;
				++*written;
				*early += state[g - gfn0] != FLUSHED;
				state[g - gfn0] = MAPPED;
			}
		}
	}
	free(copy);
	free(state);
}

/* Trace @change of memslot A, then check its write-backs as above. */
static void check_leaving(struct kvm_vm *vm, uint64_t npages, const char *what,
			  void (*change)(struct kvm_vm *vm))
{
	struct spte_trace trace;
	uint64_t written, early;

	spte_trace_also("kvm/kvm_noncoherent_writeback", "kvm_flush_remote_tlbs*");
	spte_trace_start(GPA_A >> PAGE_SHIFT, npages);
	change(vm);
	spte_trace_stop(&trace);
	leaving_writebacks(trace.text, GPA_A >> PAGE_SHIFT, npages, &written, &early);
	spte_trace_free(&trace);
	ksft_print_msg("%s: %lu of %lu pages written back as they left, %lu before the TLB flush\n",
		       what, written, npages, early);
	TEST_ASSERT_EQ(written, npages);
	TEST_ASSERT_EQ(early, 0);
}

static void clear_flag(struct kvm_vm *vm)
{
	vm_mem_region_set_flags(vm, SLOT_A, 0);
}

static void delete_slot_a(struct kvm_vm *vm)
{
	vm_mem_region_delete(vm, SLOT_A);
}

/*
 * A page leaving a flagged mapping is written back only after the remote
 * TLB flush that follows its SPTE change: until then a vCPU can still
 * store to it past the caches, and a line cached after an early write-back
 * would hide what it wrote.  Checked in the order of the trace, for a flag
 * cleared (kvm_zap_gfn_range()) and for a memslot deleted.
 */
TEST(writeback_after_the_tlb_flush)
{
	const uint64_t npages = (2ull << 20) / PAGE_SIZE;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	if (!kvm_has_cap(KVM_CAP_MEMSLOT_NON_COHERENT_DMA))
		SKIP(return, NO_FLAG_SUPPORT);
	spte_trace_require();
	vm = __vm_create_with_one_vcpu(&vcpu, PT_PAGES(npages), guest_code);
	add_slot(vm, SLOT_A, GPA_A, npages, NC);

	touch(vcpu, GPA_A, npages);
	check_leaving(vm, npages, "flag cleared", clear_flag);

	vm_mem_region_set_flags(vm, SLOT_A, NC);
	touch(vcpu, GPA_A, npages);
	check_leaving(vm, npages, "memslot deleted", delete_slot_a);
	kvm_vm_free(vm);
}

/* A number with the kernel's K/M/G suffixes (memparse()). */
static uint64_t mem_value(const char *p, char **end)
{
	static const char units[] = "KMG";
	uint64_t v = strtoull(p, end, 0);
	const char *unit = **end ? strchr(units, toupper(**end)) : NULL;

	if (unit) {
		v <<= 10 * (unit - units + 1);
		(*end)++;
	}
	return v;
}

/* The first "memmap=<size>$<address>" of the kernel command line. */
static bool reserved_ram(uint64_t *pa, uint64_t *size)
{
	char cmdline[4096], *p, *end;
	ssize_t len;
	int fd;

	fd = open("/proc/cmdline", O_RDONLY);
	if (fd < 0)
		return false;
	len = read(fd, cmdline, sizeof(cmdline) - 1);
	close(fd);
	if (len <= 0)
		return false;
	cmdline[len] = 0;
	for (p = strstr(cmdline, "memmap="); p; p = strstr(p + 1, "memmap=")) {
		*size = mem_value(p + strlen("memmap="), &end);
		if (*end != '$')
			continue;
		*pa = mem_value(end + 1, &end);
		if (*size >= PAGE_SIZE && !(*pa & (PAGE_SIZE - 1)))
			return true;
	}
	return false;
}

/*
 * RAM reserved at boot (memmap=) is not in the direct map, and a VMM can
 * map it from /dev/mem into a flagged memslot; with PAT, KVM does not take
 * it for host MMIO.  KVM cannot write it back, so it maps it as in an
 * unflagged memslot (v1 flushed it through the direct map and faulted).
 */
TEST(reserved_ram_outside_the_direct_map)
{
	uint64_t pa, size, npages, n, mapped;
	struct spte_trace trace;
	bool tracing;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t *hva;
	int fd;

	if (!kvm_has_cap(KVM_CAP_MEMSLOT_NON_COHERENT_DMA))
		SKIP(return, NO_FLAG_SUPPORT);
	if (!reserved_ram(&pa, &size))
		SKIP(return, "no memmap=<n>M$<address> on the kernel command line");
	fd = open("/dev/mem", O_RDWR);
	if (fd < 0)
		SKIP(return, "/dev/mem: %s", strerror(errno));
	hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, pa);
	if (hva == MAP_FAILED) {
		close(fd);
		SKIP(return, "mmap of /dev/mem at %#lx: %s", pa, strerror(errno));
	}
	npages = size / PAGE_SIZE;

	vm = __vm_create_with_one_vcpu(&vcpu, PT_PAGES(npages), guest_code);
	vm_set_user_memory_region(vm, SLOT_A, NC, GPA_A, size, hva);
	virt_map(vm, GPA_A, GPA_A, npages);
	tracing = !access(SPTE_EVENT_ENABLE, W_OK);
	if (tracing)
		spte_trace_start(GPA_A >> PAGE_SHIFT, npages);
	touch(vcpu, GPA_A, npages);
	if (tracing) {
		/* Mapped as unflagged RAM: WB, guest PAT ignored (the quirk). */
		spte_trace_stop(&trace);
		n = spte_trace_count(&trace, GPA_A >> PAGE_SHIFT, npages,
				     SPTE_MEMTYPE_WB, true, &mapped);
		ksft_print_msg("reserved RAM: %lu of %lu pages mapped WB with guest PAT ignored\n",
			       n, mapped);
		ASSERT_EQ(n, npages);
		spte_trace_free(&trace);
	} else {
		ksft_print_msg("no tracefs: the memory type of the mappings is not checked\n");
	}
	/* The guest wrote i into page i. */
	ASSERT_EQ(READ_ONCE(hva[(npages - 1) * PAGE_SIZE / sizeof(*hva)]), npages - 1);
	ksft_print_msg("%lu MiB of reserved RAM at %#lx, flagged: %lu pages written back\n",
		       size >> 20, pa, stat(vm, "noncoherent_writebacks"));
	ASSERT_EQ(stat(vm, "noncoherent_writebacks"), 0);
	vm_set_user_memory_region(vm, SLOT_A, 0, 0, 0, NULL);
	ASSERT_EQ(stat(vm, "noncoherent_writebacks"), 0);
	kvm_vm_free(vm);
	munmap(hva, size);
	close(fd);
}

static uint64_t faults(struct kvm_vcpu *vcpu)
{
	return vcpu_get_stat(vcpu, pf_fixed);
}

/*
 * NC_GUEST_MIB of guest memory: a 2 MiB memslot whose flag changes, the
 * rest in a normal one.  Only the 2 MiB memslot is zapped, so only its
 * pages fault again; a whole-VM non-coherent DMA edge (VMX) zaps
 * everything.
 */
TEST(flag_change_zaps_only_that_memslot)
{
	const uint64_t mib = env_mib("NC_GUEST_MIB", 32);
	const uint64_t npages_a = (2ull << 20) / PAGE_SIZE;
	const uint64_t npages_b = ((mib - 2) << 20) / PAGE_SIZE;
	uint64_t before, flag_faults, edge_faults, wb;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	const char *path;
	int bridge, group;
	int32_t fd;

	if (!kvm_has_cap(KVM_CAP_MEMSLOT_NON_COHERENT_DMA))
		SKIP(return, NO_FLAG_SUPPORT);
	vm = __vm_create_with_one_vcpu(&vcpu, PT_PAGES(npages_a + npages_b), guest_code);
	add_slot(vm, SLOT_A, GPA_A, npages_a, NC);
	add_slot(vm, SLOT_B, GPA_B, npages_b, 0);
	touch(vcpu, GPA_A, npages_a);
	touch(vcpu, GPA_B, npages_b);

	wb = stat(vm, "noncoherent_writebacks");
	vm_mem_region_set_flags(vm, SLOT_A, 0);
	/* The flagged pages leave: written back where they were mapped so. */
	ASSERT_EQ(stat(vm, "noncoherent_writebacks"), wb + npages_a);

	before = faults(vcpu);
	touch(vcpu, GPA_A, npages_a);
	touch(vcpu, GPA_B, npages_b);
	flag_faults = faults(vcpu) - before;
	ksft_print_msg("faults after a flag change of a 2 MiB memslot (%lu MiB guest): %lu\n",
		       mib, flag_faults);
	ASSERT_GT(flag_faults, 0);
	ASSERT_LE(flag_faults, npages_a);

	path = getenv("KVM_VFIO_NONCOHERENT_GROUP0");
	if (!path || !*path) {
		ksft_print_msg("KVM_VFIO_NONCOHERENT_GROUP0 unset: no whole-VM edge\n");
		kvm_vm_free(vm);
		return;
	}
	group = open(path, O_RDWR);
	ASSERT_GE(group, 0);
	bridge = __kvm_create_device(vm, KVM_DEV_TYPE_VFIO);
	ASSERT_GE(bridge, 0);
	fd = group;
	before = faults(vcpu);
	kvm_device_attr_set(bridge, KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_FILE_ADD, &fd);
	touch(vcpu, GPA_A, npages_a);
	touch(vcpu, GPA_B, npages_b);
	edge_faults = faults(vcpu) - before;
	ksft_print_msg("faults after a whole-VM non-coherent DMA edge: %lu\n", edge_faults);
	/* Where edges zap (VMX), every page faults again; elsewhere none. */
	ASSERT_TRUE(stat(vm, "guest_pat_zaps") ? edge_faults > flag_faults : edge_faults == 0);

	close(bridge);
	kvm_vm_free(vm);
	close(group);
}

/* Changes the trace recorded for gfns of [@gpa, +@npages). */
static int changes_in(const struct spte_trace *trace, uint64_t gpa, uint64_t npages)
{
	uint64_t first = gpa >> PAGE_SHIFT;
	int i, n = 0;

	for (i = 0; i < trace->nr; i++)
		n += trace->changes[i].gfn >= (first & ~511ull) &&
		     trace->changes[i].gfn < first + npages;
	return n;
}

/*
 * VMX, observed in the SPTEs: guest PAT is honoured inside a flagged
 * memslot and ignored outside it (no non-coherent device, quirk on), and
 * clearing the flag rewrites that memslot's SPTEs only.
 */
TEST(ept_memtype_inside_flagged_memslot_only)
{
	const uint64_t npages = 64;
	uint64_t mapped, n;
	struct spte_trace trace;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	if (!kvm_has_cap(KVM_CAP_MEMSLOT_NON_COHERENT_DMA))
		SKIP(return, NO_FLAG_SUPPORT);
	if (!host_cpu_is_intel || !kvm_is_tdp_enabled() || !get_kvm_param_bool("tdp_mmu") ||
	    access(SPTE_EVENT_ENABLE, W_OK))
		SKIP(return, "needs tracefs, EPT and the TDP MMU to watch EPT memory types");
	spte_trace_require();
	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	add_slot(vm, SLOT_A, GPA_A, npages, NC);
	add_slot(vm, SLOT_B, GPA_B, npages, 0);

	spte_trace_start(0, 0);
	touch(vcpu, GPA_A, npages);
	touch(vcpu, GPA_B, npages);
	spte_trace_stop(&trace);
	n = spte_trace_count(&trace, GPA_A >> PAGE_SHIFT, npages, SPTE_MEMTYPE_WB, false,
			     &mapped);
	ksft_print_msg("flagged memslot: %lu of %lu pages WB with guest PAT honoured\n",
		       n, mapped);
	ASSERT_EQ(n, npages);
	n = spte_trace_count(&trace, GPA_B >> PAGE_SHIFT, npages, SPTE_MEMTYPE_WB, true,
			     &mapped);
	ksft_print_msg("normal memslot: %lu of %lu pages WB with guest PAT ignored\n",
		       n, mapped);
	ASSERT_EQ(n, npages);
	spte_trace_free(&trace);

	/* Clearing the flag zaps memslot A; B's SPTEs are not touched. */
	spte_trace_start(0, 0);
	vm_mem_region_set_flags(vm, SLOT_A, 0);
	spte_trace_stop(&trace);
	ksft_print_msg("flag cleared: %d SPTE changes in memslot A, %d in B\n",
		       changes_in(&trace, GPA_A, npages), changes_in(&trace, GPA_B, npages));
	ASSERT_GT(changes_in(&trace, GPA_A, npages), 0);
	ASSERT_EQ(changes_in(&trace, GPA_B, npages), 0);
	spte_trace_free(&trace);

	spte_trace_start(GPA_A >> PAGE_SHIFT, npages);
	touch(vcpu, GPA_A, npages);
	spte_trace_stop(&trace);
	ASSERT_EQ(spte_trace_count(&trace, GPA_A >> PAGE_SHIFT, npages, SPTE_MEMTYPE_WB,
				   true, NULL), npages);
	spte_trace_free(&trace);
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
