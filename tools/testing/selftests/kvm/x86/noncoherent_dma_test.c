// SPDX-License-Identifier: GPL-2.0
/*
 * noncoherent_dma_test - what x86 KVM does while a VM's DMA may bypass the
 * CPU caches: WBINVD emulation and the VM's non-coherent DMA count, seen
 * through the statistics KVM keeps for them.
 *
 * The guest executes WBINVD a given number of times per run.  Each exits to
 * KVM (SVM always intercepts WBINVD; VMX has WBINVD exiting), and KVM
 * flushes caches only while a non-coherent DMA source is registered: a VFIO
 * file whose IOMMU does not enforce cache coherency, added to the VM's
 * KVM-VFIO device.  The files come from the environment, as for
 * kvm_vfio_test; a case that needs a missing one is skipped:
 *
 *   KVM_VFIO_COHERENT_GROUP0      a VFIO group behind a snooping IOMMU
 *   KVM_VFIO_NONCOHERENT_GROUP0   two VFIO groups without enforced
 *   KVM_VFIO_NONCOHERENT_GROUP1   coherency (e.g. mdevs, no IOMMU)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <linux/kvm.h>

#include "kvm_util.h"
#include "processor.h"
#include "spte_trace.h"
#include "kselftest_harness.h"

#define NR_WBINVD	100

/* How many WBINVDs the guest executes before its next GUEST_SYNC. */
static int nr_wbinvd;
/* If set, the guest waits for the host after its first WBINVD of a run. */
static bool pause_after_first;
static int guest_paused, host_resume;
/* Then it reads (and, if touch_write, writes) a word in each of these pages. */
static uint64_t touch_gva, touch_npages;
static bool touch_write;

static void guest_code(void)
{
	uint32_t *p;	/* 32 bits: IOAPIC registers take no wider access */
	uint64_t i;

	for (;;) {
		for (i = 0; i < READ_ONCE(nr_wbinvd); i++) {
			asm volatile("wbinvd" ::: "memory");
			if (i || !READ_ONCE(pause_after_first))
				continue;
			WRITE_ONCE(guest_paused, 1);
			while (!READ_ONCE(host_resume))
				cpu_relax();
		}
		for (i = 0; i < READ_ONCE(touch_npages); i++) {
			p = (void *)(READ_ONCE(touch_gva) + i * PAGE_SIZE);
			if (READ_ONCE(touch_write))
				WRITE_ONCE(*p, READ_ONCE(*p) + 1);
			else
				(void)READ_ONCE(*p);
		}
		GUEST_SYNC(0);
	}
}

struct wbinvd_stats {
	uint64_t exits;
	uint64_t flushes;
	uint64_t cpus;
};

static uint64_t vm_stat(struct kvm_vm *vm, const char *name)
{
	uint64_t value = ~0ull;

	kvm_get_stat(&vm->stats, name, &value, 1);
	TEST_ASSERT(value != ~0ull, "VM statistic %s is missing", name);
	return value;
}

static struct wbinvd_stats read_wbinvd_stats(struct kvm_vcpu *vcpu)
{
	return (struct wbinvd_stats) {
		.exits = vcpu_get_stat(vcpu, wbinvd_exits),
		.flushes = vcpu_get_stat(vcpu, wbinvd_flushes),
		.cpus = vcpu_get_stat(vcpu, wbinvd_cpus_flushed),
	};
}

/* Let the guest execute @n WBINVDs; return what KVM counted for them. */
static struct wbinvd_stats run_wbinvd(struct kvm_vcpu *vcpu, int n)
{
	struct wbinvd_stats before = read_wbinvd_stats(vcpu), after;
	struct ucall uc;

	nr_wbinvd = n;
	sync_global_to_guest(vcpu->vm, nr_wbinvd);
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	TEST_ASSERT_EQ(get_ucall(vcpu, &uc), UCALL_SYNC);

	after = read_wbinvd_stats(vcpu);
	return (struct wbinvd_stats) {
		.exits = after.exits - before.exits,
		.flushes = after.flushes - before.flushes,
		.cpus = after.cpus - before.cpus,
	};
}

static void pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	TEST_ASSERT(!sched_setaffinity(0, sizeof(set), &set),
		    "pinning to CPU %d: %s", cpu, strerror(errno));
}

/* KVM_X86_QUIRK_IGNORE_GUEST_PAT is on by default on Intel only. */
static uint64_t zaps_per_edge(void)
{
	return host_cpu_is_intel ? 1 : 0;
}

FIXTURE(vm) {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	int bridge;
	int groups[3];
};

enum { COHERENT0, NONCOHERENT0, NONCOHERENT1 };

static const char * const group_env[] = {
	[COHERENT0]	= "KVM_VFIO_COHERENT_GROUP0",
	[NONCOHERENT0]	= "KVM_VFIO_NONCOHERENT_GROUP0",
	[NONCOHERENT1]	= "KVM_VFIO_NONCOHERENT_GROUP1",
};

FIXTURE_SETUP(vm)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(self->groups); i++)
		self->groups[i] = -1;
	self->vm = vm_create_with_one_vcpu(&self->vcpu, guest_code);
	self->bridge = __kvm_create_device(self->vm, KVM_DEV_TYPE_VFIO);
	ASSERT_GE(self->bridge, 0);
}

FIXTURE_TEARDOWN(vm)
{
	int i;

	close(self->bridge);
	kvm_vm_free(self->vm);
	for (i = 0; i < ARRAY_SIZE(self->groups); i++)
		if (self->groups[i] >= 0)
			close(self->groups[i]);
}

/* Open the group named by group_env[@id]; false if it is not set. */
static bool open_group(int *groups, int id)
{
	const char *path = getenv(group_env[id]);

	if (!path || !*path)
		return false;
	groups[id] = open(path, O_RDWR);
	TEST_ASSERT(groups[id] >= 0, "open %s: %s", path, strerror(errno));
	return true;
}

static void group_op(int bridge, int group, uint64_t op)
{
	int32_t fd = group;

	kvm_device_attr_set(bridge, KVM_DEV_VFIO_FILE, op, &fd);
}

static void log_stats(const char *phase, struct wbinvd_stats s)
{
	ksft_print_msg("%s: %lu WBINVD exits, %lu flushes, %lu CPUs flushed\n",
		       phase, s.exits, s.flushes, s.cpus);
}

/* (a) No VFIO file: every WBINVD exits, none flushes. */
TEST_F(vm, wbinvd_no_vfio_files)
{
	struct wbinvd_stats s = run_wbinvd(self->vcpu, NR_WBINVD);

	log_stats("no VFIO file", s);
	ASSERT_EQ(s.exits, NR_WBINVD);
	ASSERT_EQ(s.flushes, 0);
	ASSERT_EQ(s.cpus, 0);
	ASSERT_EQ(vm_stat(self->vm, "noncoherent_dma"), 0);
}

/* (b) Only coherent files: DMA snoops, so WBINVD still flushes nothing. */
TEST_F(vm, wbinvd_coherent_files_only)
{
	struct wbinvd_stats s;

	if (!open_group(self->groups, COHERENT0))
		SKIP(return, "%s is not set", group_env[COHERENT0]);
	group_op(self->bridge, self->groups[COHERENT0], KVM_DEV_VFIO_FILE_ADD);
	ASSERT_EQ(vm_stat(self->vm, "noncoherent_dma"), 0);

	s = run_wbinvd(self->vcpu, NR_WBINVD);
	log_stats("coherent VFIO group", s);
	ASSERT_EQ(s.exits, NR_WBINVD);
	ASSERT_EQ(s.flushes, 0);
	ASSERT_EQ(vm_stat(self->vm, "noncoherent_dma_edges"), 0);
}

/*
 * (c) and (d): with a non-coherent file every WBINVD flushes; once it is
 * deleted, none does again.
 */
TEST_F(vm, wbinvd_noncoherent_file_then_deleted)
{
	struct wbinvd_stats s;

	if (!open_group(self->groups, NONCOHERENT0))
		SKIP(return, "%s is not set", group_env[NONCOHERENT0]);
	group_op(self->bridge, self->groups[NONCOHERENT0], KVM_DEV_VFIO_FILE_ADD);
	ASSERT_EQ(vm_stat(self->vm, "noncoherent_dma"), 1);

	s = run_wbinvd(self->vcpu, NR_WBINVD);
	log_stats("non-coherent VFIO group", s);
	ASSERT_EQ(s.exits, NR_WBINVD);
	ASSERT_EQ(s.flushes, NR_WBINVD);
	ASSERT_GE(s.cpus, NR_WBINVD);

	group_op(self->bridge, self->groups[NONCOHERENT0], KVM_DEV_VFIO_FILE_DEL);
	ASSERT_EQ(vm_stat(self->vm, "noncoherent_dma"), 0);

	s = run_wbinvd(self->vcpu, NR_WBINVD);
	log_stats("after DEL of the non-coherent group", s);
	ASSERT_EQ(s.exits, NR_WBINVD);
	ASSERT_EQ(s.flushes, 0);
	ASSERT_EQ(vm_stat(self->vm, "noncoherent_dma_edges"), 2);
}

/*
 * The vCPU ran on CPU 0, then on CPU 1, before the non-coherent file came:
 * the first WBINVD afterwards must flush both CPUs, since CPU 0 may still
 * hold lines the guest dirtied there.
 */
TEST_F(vm, wbinvd_reaches_cpus_used_before_registration)
{
	struct wbinvd_stats s;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs two online CPUs");
	if (!open_group(self->groups, NONCOHERENT0))
		SKIP(return, "%s is not set", group_env[NONCOHERENT0]);

	pin_to_cpu(0);
	run_wbinvd(self->vcpu, 0);
	pin_to_cpu(1);
	run_wbinvd(self->vcpu, 0);

	group_op(self->bridge, self->groups[NONCOHERENT0], KVM_DEV_VFIO_FILE_ADD);
	s = run_wbinvd(self->vcpu, 1);
	log_stats("first WBINVD after registration, vCPU ran on CPUs 0 and 1", s);
	ASSERT_EQ(s.flushes, 1);
	ASSERT_EQ(s.cpus, 2);
}

struct vcpu_thread {
	struct kvm_vcpu *vcpu;
	pid_t tid;
	struct wbinvd_stats warmup, stats;
};

static void *run_paused_wbinvd(void *arg)
{
	struct vcpu_thread *t = arg;

	WRITE_ONCE(t->tid, gettid());
	pin_to_cpu(0);
	t->warmup = run_wbinvd(t->vcpu, 1);
	pause_after_first = true;
	sync_global_to_guest(t->vcpu->vm, pause_after_first);
	t->stats = run_wbinvd(t->vcpu, 2);
	return NULL;
}

/*
 * A flush on CPU 0 leaves the vCPU running there, dirtying lines; then,
 * without leaving KVM_RUN, it is moved to CPU 1.  Its next WBINVD must
 * flush CPU 0 as well as CPU 1.
 */
TEST_F(vm, wbinvd_reaches_cpu_left_after_a_flush)
{
	struct vcpu_thread t = { .vcpu = self->vcpu };
	pthread_t thread;
	cpu_set_t set;
	int *paused, *resume;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs two online CPUs");
	if (!open_group(self->groups, NONCOHERENT0))
		SKIP(return, "%s is not set", group_env[NONCOHERENT0]);
	group_op(self->bridge, self->groups[NONCOHERENT0], KVM_DEV_VFIO_FILE_ADD);

	paused = addr_gva2hva(self->vm, (gva_t)&guest_paused);
	resume = addr_gva2hva(self->vm, (gva_t)&host_resume);
	pthread_create(&thread, NULL, run_paused_wbinvd, &t);
	while (!READ_ONCE(*paused))
		usleep(1000);

	/* In the guest, between its two WBINVDs: move it to CPU 1. */
	CPU_ZERO(&set);
	CPU_SET(1, &set);
	ASSERT_EQ(sched_setaffinity(READ_ONCE(t.tid), sizeof(set), &set), 0);
	usleep(100000);
	WRITE_ONCE(*resume, 1);
	pthread_join(thread, NULL);

	log_stats("two WBINVDs, the vCPU moved from CPU 0 to 1 in between", t.stats);
	ASSERT_EQ(t.warmup.flushes, 1);
	ASSERT_EQ(t.stats.flushes, 2);
	/* CPU 0 for the first; CPUs 0 and 1 for the second. */
	ASSERT_EQ(t.stats.cpus, 3);
}

/*
 * The KVM-VFIO device registers once while it holds any non-coherent file,
 * so the count goes 0->1 with the first such file and 1->0 with the last.
 * Only these edges zap SPTEs, and only where the memory type of guest RAM
 * depends on the count (the quirk is on: VMX by default).
 */
TEST_F(vm, count_edges_and_zaps)
{
	if (!open_group(self->groups, NONCOHERENT0))
		SKIP(return, "%s is not set", group_env[NONCOHERENT0]);
	if (!open_group(self->groups, NONCOHERENT1))
		SKIP(return, "%s is not set", group_env[NONCOHERENT1]);
	run_wbinvd(self->vcpu, 0);

	group_op(self->bridge, self->groups[NONCOHERENT0], KVM_DEV_VFIO_FILE_ADD);
	ASSERT_EQ(vm_stat(self->vm, "noncoherent_dma"), 1);
	ASSERT_EQ(vm_stat(self->vm, "noncoherent_dma_edges"), 1);
	ASSERT_EQ(vm_stat(self->vm, "guest_pat_zaps"), zaps_per_edge());

	group_op(self->bridge, self->groups[NONCOHERENT1], KVM_DEV_VFIO_FILE_ADD);
	ASSERT_EQ(vm_stat(self->vm, "noncoherent_dma"), 1);
	ASSERT_EQ(vm_stat(self->vm, "noncoherent_dma_edges"), 1);
	ASSERT_EQ(vm_stat(self->vm, "guest_pat_zaps"), zaps_per_edge());

	group_op(self->bridge, self->groups[NONCOHERENT0], KVM_DEV_VFIO_FILE_DEL);
	ASSERT_EQ(vm_stat(self->vm, "noncoherent_dma"), 1);
	ASSERT_EQ(vm_stat(self->vm, "noncoherent_dma_edges"), 1);
	ASSERT_EQ(vm_stat(self->vm, "guest_pat_zaps"), zaps_per_edge());

	group_op(self->bridge, self->groups[NONCOHERENT1], KVM_DEV_VFIO_FILE_DEL);
	ASSERT_EQ(vm_stat(self->vm, "noncoherent_dma"), 0);
	ASSERT_EQ(vm_stat(self->vm, "noncoherent_dma_edges"), 2);
	ASSERT_EQ(vm_stat(self->vm, "guest_pat_zaps"), 2 * zaps_per_edge());
}

/*
 * Disabling KVM_X86_QUIRK_IGNORE_GUEST_PAT zaps SPTEs once, where it was in
 * effect (Intel); on AMD it is already off, so nothing changes.
 */
TEST_F(vm, quirk_disable_zaps_once)
{
	if (!(kvm_check_cap(KVM_CAP_DISABLE_QUIRKS2) & KVM_X86_QUIRK_IGNORE_GUEST_PAT))
		SKIP(return, "IGNORE_GUEST_PAT cannot be disabled (AMD, no EPT, no self-snoop)");
	run_wbinvd(self->vcpu, 0);

	vm_enable_cap(self->vm, KVM_CAP_DISABLE_QUIRKS2, KVM_X86_QUIRK_IGNORE_GUEST_PAT);
	ASSERT_EQ(vm_stat(self->vm, "guest_pat_zaps"), zaps_per_edge());
	vm_enable_cap(self->vm, KVM_CAP_DISABLE_QUIRKS2, KVM_X86_QUIRK_IGNORE_GUEST_PAT);
	ASSERT_EQ(vm_stat(self->vm, "guest_pat_zaps"), zaps_per_edge());
}

/* Guest memory whose EPT memory type the cases below watch. */
#define DATA_SLOT	10
#define DATA_GPA	(1ull << 32)
#define DATA_PAGES	64
/* The IOAPIC's registers: host MMIO that every x86 machine has. */
#define MMIO_HPA	0xfec00000ull
#define MMIO_SLOT	11
#define MMIO_GPA	(DATA_GPA + (1ull << 30))

#define EPT_UNOBSERVABLE "EPT memory types are watched through tracefs " \
			 "(kvmmmu:kvm_tdp_mmu_spte_changed), with EPT and the TDP MMU"

static bool ept_observable(void)
{
	return host_cpu_is_intel && kvm_is_tdp_enabled() &&
	       get_kvm_param_bool("tdp_mmu") &&
	       !access("/sys/kernel/tracing/events/kvmmmu/kvm_tdp_mmu_spte_changed/enable",
		       W_OK);
}

/*
 * Let the guest touch @npages pages from @gpa (identity-mapped) with the
 * SPTE trace on; return how many of them got a new leaf SPTE with
 * @memtype and IPAT bit @ipat.
 */
static uint64_t touch_and_count(struct kvm_vcpu *vcpu, uint64_t gpa,
				uint64_t npages, bool write, int memtype,
				bool ipat)
{
	struct spte_trace trace;
	uint64_t n, mapped;

	touch_gva = gpa;
	touch_npages = npages;
	touch_write = write;
	sync_global_to_guest(vcpu->vm, touch_gva);
	sync_global_to_guest(vcpu->vm, touch_npages);
	sync_global_to_guest(vcpu->vm, touch_write);

	spte_trace_start(gpa >> PAGE_SHIFT, npages);
	run_wbinvd(vcpu, 0);
	spte_trace_stop(&trace);
	n = spte_trace_count(&trace, gpa >> PAGE_SHIFT, npages, memtype, ipat,
			     &mapped);
	ksft_print_msg("%lu of %lu pages mapped anew, %lu of them %s%s\n",
		       mapped, npages, n, spte_memtype_name(memtype),
		       ipat ? ", IPAT set (guest PAT ignored)" :
		       ", IPAT clear (guest PAT combined)");
	spte_trace_free(&trace);
	return n;
}

/*
 * VMX: guest RAM is WB with guest PAT ignored while DMA is coherent and the
 * quirk is on; a non-coherent file makes KVM re-create the mappings with
 * guest PAT honoured, and removing it makes them ignore guest PAT again.
 */
TEST_F(vm, ept_memtype_follows_noncoherent_dma)
{
	if (!ept_observable())
		SKIP(return, EPT_UNOBSERVABLE);
	if (!open_group(self->groups, NONCOHERENT0))
		SKIP(return, "%s is not set", group_env[NONCOHERENT0]);
	spte_trace_require();
	vm_userspace_mem_region_add(self->vm, VM_MEM_SRC_ANONYMOUS, DATA_GPA,
				    DATA_SLOT, DATA_PAGES, 0);
	virt_map(self->vm, DATA_GPA, DATA_GPA, DATA_PAGES);

	ASSERT_EQ(touch_and_count(self->vcpu, DATA_GPA, DATA_PAGES, true,
				  SPTE_MEMTYPE_WB, true), DATA_PAGES);

	group_op(self->bridge, self->groups[NONCOHERENT0], KVM_DEV_VFIO_FILE_ADD);
	ASSERT_EQ(touch_and_count(self->vcpu, DATA_GPA, DATA_PAGES, true,
				  SPTE_MEMTYPE_WB, false), DATA_PAGES);

	group_op(self->bridge, self->groups[NONCOHERENT0], KVM_DEV_VFIO_FILE_DEL);
	ASSERT_EQ(touch_and_count(self->vcpu, DATA_GPA, DATA_PAGES, true,
				  SPTE_MEMTYPE_WB, true), DATA_PAGES);
}

/*
 * VMX: with the quirk disabled guest PAT is honoured everywhere, also for
 * mappings made while it was still on.
 */
TEST_F(vm, ept_memtype_quirk_disabled)
{
	if (!ept_observable())
		SKIP(return, EPT_UNOBSERVABLE);
	if (!(kvm_check_cap(KVM_CAP_DISABLE_QUIRKS2) & KVM_X86_QUIRK_IGNORE_GUEST_PAT))
		SKIP(return, "IGNORE_GUEST_PAT cannot be disabled (AMD, no EPT, no self-snoop)");
	spte_trace_require();
	vm_userspace_mem_region_add(self->vm, VM_MEM_SRC_ANONYMOUS, DATA_GPA,
				    DATA_SLOT, DATA_PAGES, 0);
	virt_map(self->vm, DATA_GPA, DATA_GPA, DATA_PAGES);

	ASSERT_EQ(touch_and_count(self->vcpu, DATA_GPA, DATA_PAGES, true,
				  SPTE_MEMTYPE_WB, true), DATA_PAGES);
	vm_enable_cap(self->vm, KVM_CAP_DISABLE_QUIRKS2, KVM_X86_QUIRK_IGNORE_GUEST_PAT);
	ASSERT_EQ(touch_and_count(self->vcpu, DATA_GPA, DATA_PAGES, true,
				  SPTE_MEMTYPE_WB, false), DATA_PAGES);
}

/* VMX: host MMIO mapped into the guest is UC, whatever the policy. */
TEST_F(vm, ept_memtype_mmio_uc)
{
	void *mmio;
	int fd;

	if (!ept_observable())
		SKIP(return, EPT_UNOBSERVABLE);
	fd = open("/dev/mem", O_RDONLY | O_SYNC);
	if (fd < 0)
		SKIP(return, "/dev/mem is needed to map host MMIO (CONFIG_DEVMEM)");
	spte_trace_require();
	mmio = mmap(NULL, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, MMIO_HPA);
	ASSERT_NE(mmio, MAP_FAILED) TH_LOG("mmap of /dev/mem at 0x%llx: %s",
					   MMIO_HPA, strerror(errno));
	vm_set_user_memory_region(self->vm, MMIO_SLOT, KVM_MEM_READONLY, MMIO_GPA,
				  PAGE_SIZE, mmio);
	virt_map(self->vm, MMIO_GPA, MMIO_GPA, 1);

	ASSERT_EQ(touch_and_count(self->vcpu, MMIO_GPA, 1, false,
				  SPTE_MEMTYPE_UC, false), 1);

	/* Not even non-coherent DMA lets the guest's PAT apply to it. */
	if (open_group(self->groups, NONCOHERENT0)) {
		group_op(self->bridge, self->groups[NONCOHERENT0], KVM_DEV_VFIO_FILE_ADD);
		ASSERT_EQ(touch_and_count(self->vcpu, MMIO_GPA, 1, false,
					  SPTE_MEMTYPE_UC, false), 1);
	}
	close(fd);
}

TEST_HARNESS_MAIN
