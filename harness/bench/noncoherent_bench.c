// SPDX-License-Identifier: GPL-2.0-only
/*
 * noncoherent_bench: what non-coherent DMA costs a VM, measured the same way
 * on any kernel, so that the unpatched base and the series can be compared
 * (harness/bench.sh boots both with this one binary).
 *
 * Everything is read through interfaces both kernels have: the vCPU's
 * pf_fixed statistic, the kvmmmu:kvm_tdp_mmu_spte_changed tracepoint (SPTEs
 * zapped, memory types), the function tracer on __wbinvd (one call per CPU
 * flushed) and the host's clock.  The series' own statistics are read from
 * debugfs where they exist and reported as n/a where they do not.
 *
 * Output, one line per figure, tab-separated:
 *   BENCH <table> <row> <column> <median> <min> <max> <runs>
 * and "# " lines that say what was skipped and why.
 *
 * Tables:
 *   scaling  making 2 MiB of the VM non-coherent as the VM grows: by a
 *            non-coherent VFIO group (the whole VM; all a base kernel can do)
 *            or by KVM_MEM_NON_COHERENT_DMA on a 2 MiB memslot (the series)
 *   memtype  (EPT only) pages that honour the guest's PAT in each setting
 *   wbinvd   guest WBINVD: rate and CPUs flushed per WBINVD
 *   bridge   KVM_DEV_VFIO_FILE_ADD/DEL latency with N files attached
 *   churn    small memslots created and deleted while 8 MiB is non-coherent
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "ucall_common.h"
#include "spte_trace.h"

#ifndef KVM_MEM_NON_COHERENT_DMA
#define KVM_MEM_NON_COHERENT_DMA	(1UL << 3)
#endif
#ifndef KVM_CAP_MEMSLOT_NON_COHERENT_DMA
#define KVM_CAP_MEMSLOT_NON_COHERENT_DMA 252
#endif

#define MIB			(1ull << 20)
#define TEST_GPA		(4ull << 30)	/* the VM's memory: slot 1 */
#define TEST_SLOT		1
#define REGION_SIZE		(2 * MIB)	/* what the device DMAs to: slot 2 */
#define REGION_SLOT		2
#define CHURN_GPA		(TEST_GPA - 64 * MIB)
#define CHURN_SLOT		3
#define CHURN_PAGES		16		/* 64 KiB */
#define MAX_FILES		32

enum { OP_TOUCH, OP_WBINVD };
static uint64_t guest_op, guest_gva, guest_len, guest_n;

static void guest_code(void)
{
	uint64_t i;

	for (;;) {
		if (READ_ONCE(guest_op) == OP_TOUCH) {
			for (i = 0; i < READ_ONCE(guest_len); i += PAGE_SIZE)
				WRITE_ONCE(*(uint64_t *)(guest_gva + i), i);
		} else {
			for (i = 0; i < READ_ONCE(guest_n); i++)
				asm volatile("wbinvd" ::: "memory");
		}
		GUEST_SYNC(0);
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Run the guest once; returns the host time it took, in ns. */
static uint64_t guest_run(struct kvm_vcpu *vcpu, uint64_t op, uint64_t gva,
			  uint64_t len, uint64_t n)
{
	struct kvm_vm *vm = vcpu->vm;
	struct ucall uc;
	uint64_t t0;

	guest_op = op;
	guest_gva = gva;
	guest_len = len;
	guest_n = n;
	sync_global_to_guest(vm, guest_op);
	sync_global_to_guest(vm, guest_gva);
	sync_global_to_guest(vm, guest_len);
	sync_global_to_guest(vm, guest_n);
	t0 = now_ns();
	vcpu_run(vcpu);
	t0 = now_ns() - t0;
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		return t0;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
	default:
		TEST_FAIL("unexpected ucall %lu", uc.cmd);
	}
	return 0;
}

/* Up to this many runs of one figure. */
#define MAX_RUNS	64

struct figure {
	double v[MAX_RUNS];
	int n;
};

static void add(struct figure *f, double v)
{
	TEST_ASSERT(f->n < MAX_RUNS, "too many runs");
	f->v[f->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of the runs, their minimum and maximum; "n/a" if none. */
static void print_figure(const char *table, const char *row, const char *col,
			 struct figure *f)
{
	double med;

	if (!f->n) {
		printf("BENCH\t%s\t%s\t%s\tn/a\tn/a\tn/a\t0\n", table, row, col);
		return;
	}
	qsort(f->v, f->n, sizeof(f->v[0]), cmp_double);
	med = f->n % 2 ? f->v[f->n / 2] : (f->v[f->n / 2 - 1] + f->v[f->n / 2]) / 2;
	printf("BENCH\t%s\t%s\t%s\t%.6g\t%.6g\t%.6g\t%d\n", table, row, col,
	       med, f->v[0], f->v[f->n - 1], f->n);
	fflush(stdout);
}

/*
 * A statistic of the VM from its debugfs directory (the series' own ones),
 * or -1 if this kernel does not have it.
 */
static int64_t debugfs_stat(struct kvm_vm *vm, const char *name)
{
	char path[128], buf[32];
	int fd, n;

	snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%d-%d/%s",
		 getpid(), vm->fd, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

/*
 * Add to @f the change of a debugfs statistic since @before, per @per, where
 * the kernel has it (@before >= 0); a statistic that was there and is gone
 * is a failure, not a figure.
 */
static void add_stat_delta(struct figure *f, struct kvm_vm *vm, const char *name,
			   int64_t before, int per)
{
	int64_t after;

	if (before < 0)
		return;
	after = debugfs_stat(vm, name);
	TEST_ASSERT(after >= before, "%s: %lld before, %lld after", name,
		    (long long)before, (long long)after);
	add(f, (double)(after - before) / per);
}

static bool flag_supported(struct kvm_vm *vm)
{
	return vm_check_cap(vm, KVM_CAP_MEMSLOT_NON_COHERENT_DMA) > 0;
}

/* A VM with @size bytes at TEST_GPA and the 2 MiB region after it. */
static struct kvm_vm *bench_vm(uint64_t size, struct kvm_vcpu **vcpu)
{
	struct kvm_vm *vm = __vm_create_with_one_vcpu(vcpu, 512, guest_code);

	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, TEST_GPA, TEST_SLOT,
				    size / PAGE_SIZE, 0);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, TEST_GPA + size,
				    REGION_SLOT, REGION_SIZE / PAGE_SIZE, 0);
	virt_map_level(vm, TEST_GPA, TEST_GPA, size + REGION_SIZE, PG_LEVEL_2M);
	return vm;
}

/* The SPTE tracepoint fires for the TDP MMU only (kvm.tdp_mmu=Y). */
static bool spte_counts;

/* VFIO files of the test VM (harness/guest/init): a non-coherent group. */
static int noncoherent_group = -1;

static int open_env(const char *var)
{
	const char *path = getenv(var);

	return path ? open(path, O_RDWR) : -1;
}

static void file_op(int bridge, int fd, uint64_t op)
{
	kvm_device_attr_set(bridge, KVM_DEV_VFIO_FILE, op, &fd);
}

/*
 * SPTEs zapped (a leaf that became non-present; a huge page split into a
 * table is not counted), and the 4K pages they mapped.
 */
static void count_zapped(const struct spte_trace *t, uint64_t *sptes,
			 uint64_t *pages)
{
	int i;

	*sptes = *pages = 0;
	for (i = 0; i < t->nr; i++) {
		const struct spte_change *c = &t->changes[i];

		if (spte_is_leaf(c->old_spte, c->level) && !spte_present(c->new_spte)) {
			(*sptes)++;
			*pages += spte_level_pages(c->level);
		}
	}
}

enum setting { BY_GROUP, BY_FLAG, QUIRK_OFF, NONE };
static const char *const setting_name[] = {
	[BY_GROUP] = "group", [BY_FLAG] = "flag", [QUIRK_OFF] = "quirk-off",
	[NONE] = "none",
};

/* Make the 2 MiB region non-coherent (@on) or coherent again. */
static void set_noncoherent(struct kvm_vm *vm, int bridge, enum setting s, bool on)
{
	if (s == BY_GROUP)
		file_op(bridge, noncoherent_group,
			on ? KVM_DEV_VFIO_FILE_ADD : KVM_DEV_VFIO_FILE_DEL);
	else if (s == BY_FLAG)
		vm_mem_region_set_flags(vm, REGION_SLOT, on ? KVM_MEM_NON_COHERENT_DMA : 0);
}

static bool disable_quirk(struct kvm_vm *vm, uint64_t quirk)
{
	return (kvm_check_cap(KVM_CAP_DISABLE_QUIRKS2) & quirk) &&
	       !__vm_enable_cap(vm, KVM_CAP_DISABLE_QUIRKS2, quirk);
}

/*
 * Why setting @s cannot be measured on this kernel and machine, or NULL if
 * it can (for QUIRK_OFF, the quirk is then disabled in @vm).
 */
static const char *setting_missing(struct kvm_vm *vm, enum setting s)
{
	if (s == BY_GROUP && noncoherent_group < 0)
		return "no non-coherent VFIO group here";
	if (s == BY_FLAG && !flag_supported(vm))
		return "KVM_CAP_MEMSLOT_NON_COHERENT_DMA is 0 here";
	if (s == QUIRK_OFF && !disable_quirk(vm, KVM_X86_QUIRK_IGNORE_GUEST_PAT))
		return "IGNORE_GUEST_PAT cannot be disabled here";
	return NULL;
}

static void bench_scaling(const uint64_t *sizes, int nr_sizes, int runs)
{
	enum setting s;
	int i, r;

	for (i = 0; i < nr_sizes; i++) {
		uint64_t size = sizes[i] * MIB, all = size + REGION_SIZE;
		struct kvm_vcpu *vcpu;
		struct kvm_vm *vm = bench_vm(size, &vcpu);
		int bridge = kvm_create_device(vm, KVM_DEV_TYPE_VFIO);
		const char *why;
		char row[64];

		guest_run(vcpu, OP_TOUCH, TEST_GPA, all, 0);
		for (s = BY_GROUP; s <= BY_FLAG; s++) {
			struct figure sptes = {}, pages = {}, faults = {}, ms = {};

			snprintf(row, sizeof(row), "%lu MiB, %s", sizes[i], setting_name[s]);
			why = setting_missing(vm, s);
			if (why) {
				printf("# %s: %s\n", row, why);
				continue;
			}
			/*
			 * Run 0 is traced and gives the SPTE counts; runs 1..runs
			 * are not (the tracepoint costs time per fault) and give
			 * the time, from the ioctl that makes the region
			 * non-coherent (the base's zap is in it) to the end of
			 * the guest's touching all memory again.
			 */
			for (r = 0; r <= runs; r++) {
				uint64_t pf = vcpu_get_stat(vcpu, pf_fixed), z, zp, t;
				struct spte_trace tr;

				if (!r && spte_counts)
					spte_trace_start(0, 0);
				t = now_ns();
				set_noncoherent(vm, bridge, s, true);
				guest_run(vcpu, OP_TOUCH, TEST_GPA, all, 0);
				t = now_ns() - t;
				if (!r && spte_counts) {
					spte_trace_stop(&tr);
					count_zapped(&tr, &z, &zp);
					spte_trace_free(&tr);
					add(&sptes, z);
					add(&pages, zp);
				}
				add(&faults, vcpu_get_stat(vcpu, pf_fixed) - pf);
				if (r)
					add(&ms, t / 1e6);
				set_noncoherent(vm, bridge, s, false);
				guest_run(vcpu, OP_TOUCH, TEST_GPA, all, 0);
			}
			print_figure("scaling", row, "sptes zapped", &sptes);
			print_figure("scaling", row, "4K pages unmapped", &pages);
			print_figure("scaling", row, "faults", &faults);
			print_figure("scaling", row, "ms to non-coherent + all touched", &ms);
		}
		close(bridge);
		kvm_vm_free(vm);
	}
}

/*
 * EPT only: how many 4K pages of the VM honour the guest's PAT (leaf SPTE
 * without IPAT) when the guest has touched all of it in each setting.
 */
static void bench_memtype(uint64_t size_mb)
{
	uint64_t size = size_mb * MIB, all = size + REGION_SIZE;
	enum setting s;

	if (!host_cpu_is_intel || !kvm_is_tdp_enabled() || !spte_counts) {
		printf("# memtype: EPT and the TDP MMU are needed (the table is about IPAT)\n");
		return;
	}
	for (s = BY_GROUP; s <= NONE; s++) {
		struct figure honour = {}, mapped = {};
		struct kvm_vcpu *vcpu;
		struct kvm_vm *vm = bench_vm(size, &vcpu);
		int bridge = kvm_create_device(vm, KVM_DEV_TYPE_VFIO);
		uint64_t n = 0, m, any = 0;
		struct spte_trace tr;
		const char *why;
		char row[64];
		int mt;

		snprintf(row, sizeof(row), "%lu MiB + 2 MiB, %s", size_mb, setting_name[s]);
		why = setting_missing(vm, s);
		if (why) {
			printf("# %s: %s\n", row, why);
			goto out;
		}
		set_noncoherent(vm, bridge, s, true);
		spte_trace_start(0, 0);
		guest_run(vcpu, OP_TOUCH, TEST_GPA, all, 0);
		spte_trace_stop(&tr);
		for (mt = 0; mt < 8; mt++) {
			n += spte_trace_count(&tr, TEST_GPA / PAGE_SIZE, all / PAGE_SIZE,
					      mt, false, &m);
			any = m;
		}
		spte_trace_free(&tr);
		add(&honour, n);
		add(&mapped, any);
		print_figure("memtype", row, "pages honouring guest PAT", &honour);
		print_figure("memtype", row, "pages mapped", &mapped);
out:
		close(bridge);
		kvm_vm_free(vm);
	}
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	TEST_ASSERT(!sched_setaffinity(0, sizeof(set), &set), "pinning to CPU %d", cpu);
}

static void unpin(int ncpus)
{
	cpu_set_t set;
	int cpu;

	CPU_ZERO(&set);
	for (cpu = 0; cpu < ncpus; cpu++)
		CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/*
 * One KVM_RUN, in which the guest executes one WBINVD and exits to the
 * ucall port, and no other vCPU ioctl: each of them (KVM_GET_REGS, which
 * get_ucall() uses, among them) loads the vCPU on the CPU it runs on, and
 * a base kernel adds that CPU to the vCPU's dirty mask then.  Returns the
 * host time, in ns.
 */
static uint64_t wbinvd_run(struct kvm_vcpu *vcpu)
{
	uint64_t t = now_ns();
	int rc;

	do {
		rc = __vcpu_run(vcpu);
	} while (rc == -1 && errno == EINTR);
	t = now_ns() - t;
	TEST_ASSERT(!rc, KVM_IOCTL_ERROR(KVM_RUN, rc));
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	return t;
}

/* Calls of __wbinvd in a function trace: one per CPU flushed. */
static uint64_t count_wbinvd_calls(const char *text)
{
	uint64_t n = 0;

	while (text && (text = strstr(text, " __wbinvd <-"))) {
		n++;
		text++;
	}
	return n;
}

/*
 * Guest WBINVDs, one per KVM_RUN: with no non-coherent DMA (skipped), with a
 * non-coherent group (the vCPU stays on CPU 0), and with the group while the
 * vCPU thread moves between CPU 0 and 1 before each run: the guest ran on
 * the CPU it leaves after the last flush, so that CPU holds its dirty lines.
 */
static void bench_wbinvd(int count, int runs)
{
	static const char *const rows[] = {
		"no non-coherent DMA", "non-coherent group", "group, vCPU migrating",
	};
	int ncpus = sysconf(_SC_NPROCESSORS_ONLN), row, r, i;

	for (row = 0; row < 3; row++) {
		struct figure rate = {}, cpus = {}, us = {}, stat = {};
		struct kvm_vcpu *vcpu;
		struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_code);
		int bridge = kvm_create_device(vm, KVM_DEV_TYPE_VFIO);

		if (row && noncoherent_group < 0) {
			printf("# wbinvd, %s: no non-coherent VFIO group here\n", rows[row]);
			goto out;
		}
		if (row == 2 && ncpus < 2) {
			printf("# wbinvd, %s: one CPU here, nothing to migrate to\n", rows[row]);
			goto out;
		}
		pin(0);
		guest_run(vcpu, OP_WBINVD, 0, 0, 1);
		if (row)
			file_op(bridge, noncoherent_group, KVM_DEV_VFIO_FILE_ADD);
		for (r = 0; r < runs; r++) {
			int64_t st = debugfs_stat(vm, "wbinvd_cpus_flushed");
			struct spte_trace tr;
			uint64_t t = 0;

			spte_trace_also(NULL, "__wbinvd");
			spte_trace_start(0, 1);
			for (i = 0; i < count; i++) {
				if (row == 2)
					pin(i % 2);
				t += wbinvd_run(vcpu);
			}
			spte_trace_stop(&tr);
			add(&cpus, (double)count_wbinvd_calls(tr.text) / count);
			spte_trace_free(&tr);
			add(&rate, count / (t / 1e9));
			add(&us, t / 1e3 / count);
			add_stat_delta(&stat, vm, "wbinvd_cpus_flushed", st, count);
		}
		print_figure("wbinvd", rows[row], "runs/s (1 WBINVD + exit each)", &rate);
		print_figure("wbinvd", rows[row], "CPUs flushed per WBINVD", &cpus);
		print_figure("wbinvd", rows[row], "wbinvd_cpus_flushed per WBINVD", &stat);
		print_figure("wbinvd", rows[row], "us per run (1 WBINVD)", &us);
out:
		pin(0);
		close(bridge);
		kvm_vm_free(vm);
	}
	unpin(ncpus);
}

/* mtty mdevs made for the bridge table, removed at the end. */
#define MTTY_TYPE "/sys/devices/virtual/mtty/mtty/mdev_supported_types/mtty-1"
static char mdev_uuid[MAX_FILES][40];
static int nr_mdevs;

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);

	TEST_ASSERT(fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s),
		    "writing '%s' to %s, errno %d", s, path, errno);
	close(fd);
}

/* Open the cdev of mdev @uuid: returns the fd, or -1. */
static int open_mdev_cdev(const char *uuid)
{
	char path[300];
	struct dirent *d;
	DIR *dir;
	int fd = -1;

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/vfio-dev", uuid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		if (!strncmp(d->d_name, "vfio", 4)) {
			snprintf(path, sizeof(path), "/dev/vfio/devices/%s", d->d_name);
			fd = open(path, O_RDWR);
			break;
		}
	closedir(dir);
	return fd;
}

/*
 * ADD and DEL of one more file with N attached.  The files are the cdevs of
 * mtty mdevs made here (mtty has 24 ports; /init's two mdevs use 4), each
 * opened twice (two files).  All are non-coherent, so that the measured ADD
 * and DEL do not change the VM's non-coherent count.
 */
static void bench_bridge(int max_files, int runs)
{
	static const int held[] = { 1, 2, 4, 8, 16, 24, 31 };
	int fds[MAX_FILES + 1], nr_fds = 0, i, h, r;

	while (nr_fds < max_files + 1 && nr_mdevs < MAX_FILES) {
		char *uuid = mdev_uuid[nr_mdevs];
		int fd = open(MTTY_TYPE "/create", O_WRONLY);
		ssize_t n;

		if (fd < 0)
			break;	/* no mtty here */
		snprintf(uuid, sizeof(mdev_uuid[0]), "83b8f4f2-509f-382f-3c1e-e6bfe0fb%04x",
			 nr_mdevs);
		n = write(fd, uuid, strlen(uuid));
		close(fd);
		if (n < 0)
			break;	/* mtty has no ports left */
		nr_mdevs++;
		for (i = 0; i < 2 && nr_fds < max_files + 1; i++) {
			fd = open_mdev_cdev(uuid);
			if (fd >= 0)
				fds[nr_fds++] = fd;
		}
	}
	if (nr_fds < 2)
		printf("# bridge: no VFIO device cdevs here (mtty, CONFIG_VFIO_DEVICE_CDEV)\n");
	/* On one CPU: under TCG a thread that moves sees another speed. */
	pin(0);
	for (h = 0; h < (int)ARRAY_SIZE(held) && held[h] < nr_fds && held[h] <= max_files; h++) {
		struct figure add_us = {}, del_us = {};
		struct kvm_vcpu *vcpu;
		struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_code);
		int bridge = kvm_create_device(vm, KVM_DEV_TYPE_VFIO), extra = fds[nr_fds - 1];
		char row[32];

		for (i = 0; i < held[h]; i++)
			file_op(bridge, fds[i], KVM_DEV_VFIO_FILE_ADD);
		for (r = 0; r < runs; r++) {
			uint64_t t0 = now_ns(), t1, t2;

			file_op(bridge, extra, KVM_DEV_VFIO_FILE_ADD);
			t1 = now_ns();
			file_op(bridge, extra, KVM_DEV_VFIO_FILE_DEL);
			t2 = now_ns();
			add(&add_us, (t1 - t0) / 1e3);
			add(&del_us, (t2 - t1) / 1e3);
		}
		snprintf(row, sizeof(row), "%d files attached", held[h]);
		print_figure("bridge", row, "ADD us", &add_us);
		print_figure("bridge", row, "DEL us", &del_us);
		for (i = 0; i < held[h]; i++)
			file_op(bridge, fds[i], KVM_DEV_VFIO_FILE_DEL);
		close(bridge);
		kvm_vm_free(vm);
	}
	unpin(sysconf(_SC_NPROCESSORS_ONLN));
	for (i = 0; i < nr_fds; i++)
		close(fds[i]);
	for (i = 0; i < nr_mdevs; i++) {
		char path[128];

		snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%.36s/remove", mdev_uuid[i]);
		write_file(path, "1");
	}
}

/*
 * The virtio-GPU pattern: an 8 MiB memslot is non-coherent, by the VFIO
 * group (the base's only way, the whole VM) and, where the kernel offers
 * it, by KVM_MEM_NON_COHERENT_DMA on that memslot, and in use by the guest,
 * while 64 KiB memslots come and go.  A cycle: create one, delete it, the
 * guest touches the 8 MiB again.  Per cycle: the time, the faults of the
 * re-touch, and the pages the series wrote back (noncoherent_writebacks;
 * n/a on a kernel without it).
 */
static void bench_churn(int cycles, int runs)
{
	static const char *const quirk[] = { "SLOT_ZAP_ALL on", "SLOT_ZAP_ALL off" };
	uint64_t size = 8 * MIB;
	enum setting s;
	int q, r, i;

	pin(0);
	for (q = 0; q < 2; q++) {
		for (s = BY_GROUP; s <= BY_FLAG; s++) {
			struct figure us = {}, wb = {}, faults = {};
			struct kvm_vcpu *vcpu;
			struct kvm_vm *vm = __vm_create_with_one_vcpu(&vcpu, 64, guest_code);
			int bridge = kvm_create_device(vm, KVM_DEV_TYPE_VFIO);
			const char *why;
			char row[64];

			snprintf(row, sizeof(row), "%s, %s", quirk[q], setting_name[s]);
			why = q && !disable_quirk(vm, KVM_X86_QUIRK_SLOT_ZAP_ALL) ?
			      "the quirk cannot be disabled here" : setting_missing(vm, s);
			if (why) {
				printf("# churn, %s: %s\n", row, why);
				goto out;
			}
			vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, TEST_GPA,
						    REGION_SLOT, size / PAGE_SIZE, 0);
			virt_map_level(vm, TEST_GPA, TEST_GPA, size, PG_LEVEL_2M);
			set_noncoherent(vm, bridge, s, true);
			guest_run(vcpu, OP_TOUCH, TEST_GPA, size, 0);
			for (r = 0; r < runs; r++) {
				int64_t wb0 = debugfs_stat(vm, "noncoherent_writebacks");
				uint64_t t = now_ns(), pf = vcpu_get_stat(vcpu, pf_fixed);

				for (i = 0; i < cycles; i++) {
					vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS,
								    CHURN_GPA, CHURN_SLOT,
								    CHURN_PAGES, 0);
					vm_mem_region_delete(vm, CHURN_SLOT);
					guest_run(vcpu, OP_TOUCH, TEST_GPA, size, 0);
				}
				t = now_ns() - t;
				add(&us, t / 1e3 / cycles);
				add(&faults, (double)(vcpu_get_stat(vcpu, pf_fixed) - pf) / cycles);
				add_stat_delta(&wb, vm, "noncoherent_writebacks", wb0, cycles);
			}
			print_figure("churn", row, "us per cycle", &us);
			print_figure("churn", row, "faults per cycle", &faults);
			print_figure("churn", row, "pages written back per cycle", &wb);
out:
			close(bridge);
			kvm_vm_free(vm);
		}
	}
	unpin(sysconf(_SC_NPROCESSORS_ONLN));
}

static void usage(const char *prog)
{
	printf("usage: %s [-s MiB,MiB,...] [-m MiB] [-r runs] [-w count] [-f files] [-c cycles]\n"
	       "  -s  VM sizes of the scaling table (default 16,32,64,128)\n"
	       "  -m  VM size of the memtype table (default 32)\n"
	       "  -r  runs of each figure, the median is printed (default 5, at most %d)\n"
	       "  -w  WBINVDs per run (default 200)\n"
	       "  -f  most files attached in the bridge table (default 16, at most %d)\n"
	       "  -c  memslot create+delete cycles per run (default 50)\n",
	       prog, MAX_RUNS / 4, MAX_FILES - 1);
	exit(KSFT_FAIL);
}

int main(int argc, char *argv[])
{
	uint64_t sizes[16] = { 16, 32, 64, 128 }, memtype_mb = 32;
	int nr_sizes = 4, runs = 5, wbinvds = 200, files = 16, cycles = 50, opt;
	char *tok;

	while ((opt = getopt(argc, argv, "s:m:r:w:f:c:h")) != -1) {
		switch (opt) {
		case 's':
			nr_sizes = 0;
			for (tok = strtok(optarg, ","); tok && nr_sizes < 16; tok = strtok(NULL, ","))
				sizes[nr_sizes++] = strtoull(tok, NULL, 0);
			break;
		case 'm':
			memtype_mb = strtoull(optarg, NULL, 0);
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		case 'w':
			wbinvds = atoi(optarg);
			break;
		case 'f':
			files = atoi(optarg);
			break;
		case 'c':
			cycles = atoi(optarg);
			break;
		default:
			usage(argv[0]);
		}
	}
	/* The bridge table takes 4 x runs samples of each figure. */
	if (runs < 1 || runs * 4 > MAX_RUNS || files < 1 || files >= MAX_FILES || wbinvds < 1 ||
	    cycles < 1 || !nr_sizes)
		usage(argv[0]);
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_DEVICE_CTRL));
	__TEST_REQUIRE(!access("/sys/kernel/tracing/trace", W_OK) ||
		       !access("/sys/kernel/debug/tracing/trace", W_OK), "tracefs is needed");

	noncoherent_group = open_env("KVM_VFIO_NONCOHERENT_GROUP0");
	spte_counts = get_kvm_param_bool("tdp_mmu");
	if (!spte_counts)
		printf("# kvm.tdp_mmu=N: no SPTE counts (the tracepoint is the TDP MMU's)\n");
	if (!host_cpu_is_intel)
		printf("# scaling: NPT has no memory type, so neither kernel zaps for non-coherent DMA on AMD\n");
	printf("# noncoherent_bench: %s, %ld CPUs, %d runs per figure, KVM_MEM_NON_COHERENT_DMA %s\n",
	       host_cpu_is_intel ? "Intel" : "AMD", sysconf(_SC_NPROCESSORS_ONLN), runs,
	       kvm_check_cap(KVM_CAP_MEMSLOT_NON_COHERENT_DMA) ? "offered" : "not offered");
	bench_scaling(sizes, nr_sizes, runs);
	bench_memtype(memtype_mb);
	bench_wbinvd(wbinvds, runs);
	bench_bridge(files, runs * 4);
	bench_churn(cycles, runs);
	printf("# noncoherent_bench: done\n");
	return 0;
}
