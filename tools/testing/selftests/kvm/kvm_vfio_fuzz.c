// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_vfio_fuzz - random operations on the KVM-VFIO bridge, checked against
 * a model after every step.
 *
 * Several threads each own a VM and drive, from their own seeded generator,
 * random sequences over real objects: the bridge (create, create with
 * KVM_CREATE_DEVICE_TEST, a second create, close), HAS/GET/SET attribute
 * with random groups, attributes and addresses (valid, NULL, PROT_NONE,
 * read-only, a kernel address), ADD and DEL of real VFIO group and device
 * (cdev) files of both coherency kinds, of dup()s of them, of fds that are
 * not open and of files that are not VFIO files (/dev/null, an eventfd, the
 * VM's and the bridge's own fd), VM destruction with files attached, in
 * either order with the bridge, and memslots with and without
 * KVM_MEM_NON_COHERENT_DMA (create, flag set and clear, delete).
 *
 * Each thread keeps a model of what the kernel must answer: every return
 * value and errno, and after every step the VM statistics vfio_files,
 * vfio_noncoherent_files and, where they exist, noncoherent_dma,
 * noncoherent_memslots and noncoherent_memslot_pages.  The VFIO files are
 * shared by all threads (one bridge may hold a file another bridge holds
 * too), so a thread's answers do not depend on the others and a failure
 * replays from its seed.  When all threads are done, every group must be
 * free again: it opens, and a fresh container accepts it.
 *
 * Usage: kvm_vfio_fuzz [-b] [-s SEED] [-t THREADS] [-n OPS_PER_THREAD] [-w SECS]
 * Without -s it runs a fixed seed, then a random one; both are printed.
 * -b checks the return values only, for a kernel without the series.
 * A thread that stays at one step for SECS seconds (default 120, 0: never)
 * is reported as stalled, with its kernel stack and what its VM's
 * statistics do meanwhile, and the run fails.
 * The VFIO files come from the environment variables kvm_vfio_test uses.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>

#include <linux/kvm.h>
#include <linux/vfio.h>

#include "kvm_util.h"
#include "ucall_common.h"
#include "kselftest.h"

#define FIXED_SEED		1
#define DEFAULT_THREADS		4
#define DEFAULT_OPS		1500
#define MAX_THREADS		32
#define DEFAULT_STALL_SECS	120
#define USAGE			"[-b] [-s SEED] [-t THREADS] [-n OPS] [-w SECS]"

#define MAX_FILES		8
#define NR_DUPS			4
#define NR_SLOTS		3
#define SLOT_PAGES		2
#define SLOT_GPA(i)		((1ull << 30) + (i) * (16ull << 20))

#ifndef KVM_MEM_NON_COHERENT_DMA
#define KVM_MEM_NON_COHERENT_DMA	(1UL << 3)
#endif
#ifndef KVM_X86_QUIRK_IGNORE_GUEST_PAT
#define KVM_X86_QUIRK_IGNORE_GUEST_PAT	(1 << 9)
#endif
#ifndef KVM_CAP_MEMSLOT_NON_COHERENT_DMA
#define KVM_CAP_MEMSLOT_NON_COHERENT_DMA 252
#endif

/* The files every thread uses: groups open once, each cdev open twice. */
static const struct {
	const char *env;
	bool group;
	bool coherent;
} vfio_env[] = {
	{ "KVM_VFIO_COHERENT_GROUP0",     true,  true  },
	{ "KVM_VFIO_NONCOHERENT_GROUP0",  true,  false },
	{ "KVM_VFIO_NONCOHERENT_GROUP1",  true,  false },
	{ "KVM_VFIO_COHERENT_DEVICE0",    false, true  },
	{ "KVM_VFIO_NONCOHERENT_DEVICE0", false, false },
};

struct vfio_file {
	const char *env;
	const char *path;
	bool group;
	bool coherent;
	int fd;
};

static struct vfio_file files[MAX_FILES];
static int nr_files;
static uint64_t run_seed;
static unsigned long total_ops;	/* all threads, this run */
static int run_threads;
static bool wbinvd_exits = true;	/* does a guest WBINVD reach KVM? */
static bool base_mode;		/* -b: no statistics to check (a base kernel) */
static int stall_secs = DEFAULT_STALL_SECS;	/* -w */
static long page_size;

enum stat_id {
	ST_FILES, ST_NONCOHERENT, ST_DMA, ST_DMA_EDGES, ST_SLOTS, ST_SLOT_PAGES,
	NR_STATS
};

static const char * const stat_name[NR_STATS] = {
	"vfio_files", "vfio_noncoherent_files", "noncoherent_dma",
	"noncoherent_dma_edges", "noncoherent_memslots", "noncoherent_memslot_pages",
};

enum op {
	OP_ADD, OP_DEL, OP_BAD_ATTR, OP_HAS_GET_ATTR, OP_CLOSE_BRIDGE, OP_DUP,
	OP_MEMSLOT, OP_CREATE, OP_VCPU, OP_QUIRK, OP_SWEEP, OP_DESTROY_VM, NR_OPS
};

static const char * const op_name[NR_OPS] = {
	"ADD", "DEL", "bad SET_ATTR", "HAS/GET_ATTR", "bridge close", "dup/close",
	"memslot", "create", "WBINVD", "quirk", "fail-nth sweeps", "VM destroy",
};

static int quirks2;		/* KVM_CAP_DISABLE_QUIRKS2: what can be disabled */

/* Some statistics of one binary stats fd, found by name. */
struct stats {
	int fd;
	uint32_t off[NR_STATS];		/* byte offset in the data, or ~0 */
	uint32_t data_offset, data_size;
	uint64_t *data;
};

enum vcpu_stat_id { VS_EXITS, VS_FLUSHES, NR_VCPU_STATS };

static const char * const vcpu_stat_name[NR_VCPU_STATS] = {
	"wbinvd_exits", "wbinvd_flushes",
};

/* Fault injection: /proc/thread-self/fail-nth, per thread. */
#define FAILSLAB_DIR	"/sys/kernel/debug/failslab/"
#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define SWEEP_MAX	64

struct fail_nth {
	int fd;				/* arms and disarms, or -1 */
	int rfd;			/* reads back */
};

static const char *fail_nth_unavailable;	/* why, or NULL */

struct slot {
	bool used;
	bool flagged;
	void *hva;
};

struct fuzzer {
	int tid;
	pid_t ktid;			/* the thread's task, for its kernel stack */
	int vm_fd;			/* its VM's fd, -1 if none: for debugfs */
	unsigned long beat;		/* the step, for watch() (atomic) */
	bool done;			/* written last, atomically */
	uint64_t rng;
	unsigned long step, ops;
	char what[160];

	struct kvm_vm *vm;
	int bridge;
	bool attached[MAX_FILES];
	int dup_fd[NR_DUPS];
	int dup_of[NR_DUPS];
	struct slot slot[NR_SLOTS];
	bool nc_cap;

	struct stats vm_stats;
	struct kvm_vcpu *vcpu;		/* x86: a vCPU that executes WBINVD */
	struct stats vcpu_stats;
	bool wbinvd_dma;		/* the model's last noncoherent_dma */
	uint64_t dma_edges;		/* and its edges, as noncoherent_dma_edges */
	struct fail_nth fn;

	int devnull, efd;
	char *none_page;		/* PROT_NONE: reads fault */
	char *ro_page;			/* read-only while an fd is read from it */
	unsigned long counts[NR_OPS];
	unsigned long sweeps, injected;	/* fail-nth sweeps done, failures they injected */
};

/* xorshift64*: small, fast, and the same sequence on every machine. */
static uint64_t rnd(struct fuzzer *f)
{
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 0x2545f4914f6cdd1dull;
}

static unsigned int pick(struct fuzzer *f, unsigned int n)
{
	return (rnd(f) >> 11) % n;
}

static void __noreturn vfail(struct fuzzer *f, const char *tag, const char *why,
			     const char *fmt, va_list ap)
{
	static int reported;

	/* The first thread to fail reports it and ends the process. */
	if (__atomic_exchange_n(&reported, 1, __ATOMIC_SEQ_CST))
		for (;;)
			pause();
	flockfile(stdout);
	printf("# %s: seed %#" PRIx64 ", thread %d, step %lu", tag, run_seed, f->tid, f->step);
	printf(" (%lu operations in all threads): %s\n#   ",
	       __atomic_load_n(&total_ops, __ATOMIC_RELAXED), f->what);
	vprintf(fmt, ap);
	printf("\n# replay: kvm_vfio_fuzz%s -s %#" PRIx64 " -t %d -n %lu\n",
	       base_mode ? " -b" : "", run_seed, run_threads, f->ops);
	funlockfile(stdout);
	fflush(stdout);
	ksft_exit_fail_msg("%s\n", why);
}

static void __printf(2, 3) __noreturn
mismatch(struct fuzzer *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(f, "MISMATCH", "the kernel and the model disagree", fmt, ap);
}

static void __printf(2, 3) __noreturn
stall_fail(struct fuzzer *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(f, "STALL", "a thread stopped advancing", fmt, ap);
}

static const char *errname(int ret, int err)
{
	static __thread char buf[32];

	if (!ret)
		return "0";
	snprintf(buf, sizeof(buf), "%s", strerrorname_np(err) ?: "E?");
	return buf;
}

/* The call returned @ret with @err; the model wanted @want (0 or an errno). */
static void expect(struct fuzzer *f, int ret, int err, int want)
{
	bool ok = want ? (ret == -1 && err == want) : ret == 0;

	if (!ok)
		mismatch(f, "got %s (ret %d), model says %s", errname(ret, err),
			 ret, want ? strerrorname_np(want) : "0");
}

/* Locate @nr statistics by name in the binary stats fd @fd. */
static void stats_open(struct stats *st, int fd, const char * const *names, int nr)
{
	struct kvm_stats_header h;
	size_t desc_size;
	char *descs;
	int i, s;

	TEST_ASSERT(fd >= 0, "KVM_GET_STATS_FD: %s", strerror(errno));
	st->fd = fd;
	TEST_ASSERT(pread(fd, &h, sizeof(h), 0) == sizeof(h), "stats header");
	desc_size = sizeof(struct kvm_stats_desc) + h.name_size;
	descs = calloc(h.num_desc, desc_size);
	TEST_ASSERT(descs, "calloc");
	TEST_ASSERT(pread(fd, descs, h.num_desc * desc_size, h.desc_offset) ==
		    (ssize_t)(h.num_desc * desc_size), "stats descriptors");
	st->data_offset = h.data_offset;
	st->data_size = 0;
	for (s = 0; s < nr; s++)
		st->off[s] = ~0u;
	for (i = 0; i < (int)h.num_desc; i++) {
		struct kvm_stats_desc *d = (void *)(descs + i * desc_size);
		uint32_t end = d->offset + d->size * sizeof(uint64_t);

		if (end > st->data_size)
			st->data_size = end;
		for (s = 0; s < nr; s++)
			if (!strcmp(d->name, names[s]))
				st->off[s] = d->offset;
	}
	free(descs);
	free(st->data);
	st->data = malloc(st->data_size);
	TEST_ASSERT(st->data, "malloc");
}

static void stats_close(struct stats *st)
{
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
	free(st->data);
	st->data = NULL;
}

static void stats_read(struct stats *st)
{
	TEST_ASSERT(pread(st->fd, st->data, st->data_size, st->data_offset) ==
		    st->data_size, "stats data");
}

static bool stat_has(struct stats *st, int s)
{
	return st->off[s] != ~0u;
}

static uint64_t stat_get(struct stats *st, int s)
{
	return st->data[st->off[s] / sizeof(uint64_t)];
}

static void check_stats(struct fuzzer *f)
{
	uint64_t want[NR_STATS] = { 0 };
	int i, s;

	if (f->bridge >= 0) {
		for (i = 0; i < nr_files; i++) {
			want[ST_FILES] += f->attached[i];
			want[ST_NONCOHERENT] += f->attached[i] && !files[i].coherent;
		}
	}
	want[ST_DMA] = !!want[ST_NONCOHERENT];
	if (want[ST_DMA] != f->wbinvd_dma) {
		f->wbinvd_dma = want[ST_DMA];
		f->dma_edges++;
	}
	want[ST_DMA_EDGES] = f->dma_edges;
	for (i = 0; i < NR_SLOTS; i++) {
		want[ST_SLOTS] += f->slot[i].used && f->slot[i].flagged;
		want[ST_SLOT_PAGES] += f->slot[i].used && f->slot[i].flagged ? SLOT_PAGES : 0;
	}

	stats_read(&f->vm_stats);
	for (s = 0; s < NR_STATS; s++) {
		uint64_t got;

		if (!stat_has(&f->vm_stats, s) || base_mode)
			continue;
		got = stat_get(&f->vm_stats, s);
		if (got != want[s])
			mismatch(f, "statistic %s is %" PRIu64 ", model says %" PRIu64,
				 stat_name[s], got, want[s]);
	}
}

#ifdef __x86_64__
static void guest_wbinvd(void)
{
	for (;;) {
		asm volatile("wbinvd" ::: "memory");
		GUEST_SYNC(0);
	}
}
#endif

static void vm_new(struct fuzzer *f)
{
	int i;

#ifdef __x86_64__
	f->vm = vm_create_with_one_vcpu(&f->vcpu, guest_wbinvd);
	stats_open(&f->vcpu_stats, __vcpu_ioctl(f->vcpu, KVM_GET_STATS_FD, NULL),
		   vcpu_stat_name, NR_VCPU_STATS);
#else
	f->vm = vm_create_barebones();
#endif
	f->wbinvd_dma = false;
	f->dma_edges = 0;
	f->bridge = -1;
	memset(f->attached, 0, sizeof(f->attached));
	for (i = 0; i < NR_SLOTS; i++)
		f->slot[i] = (struct slot){ .hva = f->slot[i].hva };
	f->nc_cap = vm_check_cap(f->vm, KVM_CAP_MEMSLOT_NON_COHERENT_DMA) > 0;
	/* debugfs names the VM's directory after the creating thread. */
	f->ktid = gettid();
	__atomic_store_n(&f->vm_fd, f->vm->fd, __ATOMIC_RELAXED);
	stats_open(&f->vm_stats, __vm_ioctl(f->vm, KVM_GET_STATS_FD, NULL),
		   stat_name, NR_STATS);
}

/* Close the bridge fd: the bridge lets go of every file. */
static void bridge_close(struct fuzzer *f)
{
	if (f->bridge < 0)
		return;
	close(f->bridge);
	f->bridge = -1;
	memset(f->attached, 0, sizeof(f->attached));
}

/* Destroy the VM, with files attached or not, bridge first or last. */
static void vm_destroy(struct fuzzer *f, bool bridge_last)
{
	int bridge = f->bridge;

	stats_close(&f->vm_stats);
	if (f->vcpu)
		stats_close(&f->vcpu_stats);
	f->vcpu = NULL;
	if (!bridge_last)
		bridge_close(f);
	__atomic_store_n(&f->vm_fd, -1, __ATOMIC_RELAXED);
	/* The bridge fd holds the VM: it goes when both fds are closed. */
	kvm_vm_free(f->vm);
	if (bridge_last && bridge >= 0)
		close(bridge);
	f->bridge = -1;
	f->vm = NULL;
	memset(f->attached, 0, sizeof(f->attached));
}

/*
 * An fd to hand to ADD or DEL, and what the model knows of it: the index of
 * the VFIO file it refers to, or -1 (not VFIO), or -2 (not open).
 */
static int pick_fd(struct fuzzer *f, int *file, const char **desc)
{
	static const int not_open[] = { -1, 1 << 20, INT32_MAX };
	unsigned int r = pick(f, 20), i = pick(f, 64);

	*file = -1;
	if (r < 10 && nr_files) {
		i %= nr_files;
		*file = i;
		*desc = files[i].env;
		return files[i].fd;
	}
	if (r < 14) {
		i %= NR_DUPS;
		if (f->dup_fd[i] >= 0) {
			*file = f->dup_of[i];
			*desc = "a dup() of a VFIO file";
			return f->dup_fd[i];
		}
	}
	switch (r % 6) {
	case 0:
		*desc = "/dev/null";
		return f->devnull;
	case 1:
		*desc = "an eventfd";
		return f->efd;
	case 2:
		*desc = "the VM fd";
		return f->vm->fd;
	case 3:
		if (f->bridge >= 0) {
			*desc = "the bridge's own fd";
			return f->bridge;
		}
		break;
	default:
		break;
	}
	*file = -2;
	*desc = "an fd that is not open";
	return not_open[pick(f, 3)];
}

static int set_attr(struct fuzzer *f, uint32_t group, uint64_t attr, uint64_t addr)
{
	struct kvm_device_attr a = { .group = group, .attr = attr, .addr = addr };

	return ioctl(f->bridge, KVM_SET_DEVICE_ATTR, &a);
}

static void op_file(struct fuzzer *f, bool add)
{
	const char *desc;
	int32_t *where;
	int file, fd, want, ret, err;
	bool ro = !pick(f, 8);

	fd = pick_fd(f, &file, &desc);
	snprintf(f->what, sizeof(f->what), "%s %s (fd %d)%s", add ? "ADD" : "DEL",
		 desc, fd, ro ? " from a read-only page" : "");
	if (file == -2)
		want = EBADF;
	else if (file == -1)
		want = add ? EINVAL : ENOENT;
	else if (add)
		want = f->attached[file] ? EEXIST : 0;
	else
		want = f->attached[file] ? 0 : ENOENT;

	where = (int32_t *)f->ro_page;
	*where = fd;
	if (ro)
		TEST_ASSERT(!mprotect(f->ro_page, page_size, PROT_READ), "mprotect");
	ret = set_attr(f, KVM_DEV_VFIO_FILE,
		       add ? KVM_DEV_VFIO_FILE_ADD : KVM_DEV_VFIO_FILE_DEL,
		       (uintptr_t)where);
	err = errno;
	if (ro)
		TEST_ASSERT(!mprotect(f->ro_page, page_size, PROT_READ | PROT_WRITE),
			    "mprotect");
	expect(f, ret, err, want);
	if (!want && file >= 0)
		f->attached[file] = add;
}

static void op_bad_attr(struct fuzzer *f)
{
	static const uint32_t groups[] = { 0, KVM_DEV_VFIO_FILE, 2, 0xffffffff };
	uint32_t group = groups[pick(f, 4)];
	uint64_t attr = pick(f, 6), addr;
	int want, ret, err;

	switch (pick(f, 3)) {
	case 0:
		addr = 0;
		break;
	case 1:
		addr = (uintptr_t)f->none_page;
		break;
	default:
		addr = ~0ull - 4095;	/* a kernel address */
		break;
	}
#ifdef __powerpc__
	if (attr == 3)
		attr = 4;		/* SET_SPAPR_TCE exists where SPAPR TCE is built */
#endif
	snprintf(f->what, sizeof(f->what), "SET_ATTR group %u attr %" PRIu64
		 " addr %#" PRIx64, group, attr, addr);
	if (group != KVM_DEV_VFIO_FILE || (attr != KVM_DEV_VFIO_FILE_ADD &&
					   attr != KVM_DEV_VFIO_FILE_DEL))
		want = ENXIO;
	else
		want = EFAULT;
	ret = set_attr(f, group, attr, addr);
	err = errno;
	expect(f, ret, err, want);
}

static void op_has_get_attr(struct fuzzer *f)
{
	struct kvm_device_attr a = {
		.group = pick(f, 3),
		.attr = pick(f, 5),
	};
	bool get = !pick(f, 3);
	int want, ret, err;

	snprintf(f->what, sizeof(f->what), "%s group %u attr %llu",
		 get ? "GET_ATTR" : "HAS_ATTR", a.group, a.attr);
	ret = ioctl(f->bridge, get ? KVM_GET_DEVICE_ATTR : KVM_HAS_DEVICE_ATTR, &a);
	err = errno;
	if (get)
		want = EPERM;
	else if (a.group == KVM_DEV_VFIO_FILE &&
		 (a.attr == KVM_DEV_VFIO_FILE_ADD || a.attr == KVM_DEV_VFIO_FILE_DEL))
		want = 0;
	else
		want = ENXIO;
#ifdef __powerpc__
	/* SET_SPAPR_TCE: advertised only where the kernel has SPAPR TCE. */
	if (!get && a.group == KVM_DEV_VFIO_FILE && a.attr == 3)
		want = ret ? ENXIO : 0;
#endif
	expect(f, ret, err, want);
}

static void op_create(struct fuzzer *f)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO, .fd = 12345 };
	bool test = !pick(f, 3);
	int ret, err;

	if (test)
		cd.flags = KVM_CREATE_DEVICE_TEST;
	snprintf(f->what, sizeof(f->what), "KVM_CREATE_DEVICE(VFIO)%s, bridge %s",
		 test ? " TEST" : "", f->bridge >= 0 ? "open" : "closed");
	ret = __vm_ioctl(f->vm, KVM_CREATE_DEVICE, &cd);
	err = errno;
	expect(f, ret, err, test || f->bridge < 0 ? 0 : EBUSY);
	if (test && cd.fd != 12345)
		mismatch(f, "the TEST create wrote fd %u", cd.fd);
	if (!test && !ret)
		f->bridge = cd.fd;
}

static void op_dup(struct fuzzer *f)
{
	unsigned int i = pick(f, NR_DUPS);

	if (f->dup_fd[i] >= 0) {
		close(f->dup_fd[i]);
		f->dup_fd[i] = -1;
		return;
	}
	if (!nr_files)
		return;
	f->dup_of[i] = pick(f, nr_files);
	f->dup_fd[i] = fcntl(files[f->dup_of[i]].fd, F_DUPFD_CLOEXEC, 0);
	TEST_ASSERT(f->dup_fd[i] >= 0, "dup: %s", strerror(errno));
}

static void op_memslot(struct fuzzer *f)
{
	struct kvm_userspace_memory_region r;
	unsigned int i = pick(f, NR_SLOTS);
	struct slot *s = &f->slot[i];
	bool del = s->used && !pick(f, 3), flag = !del && pick(f, 2);
	int want, ret, err;

	r = (struct kvm_userspace_memory_region) {
		.slot = 10 + i,
		.flags = flag ? KVM_MEM_NON_COHERENT_DMA : 0,
		.guest_phys_addr = SLOT_GPA(i),
		.memory_size = del ? 0 : SLOT_PAGES * page_size,
		.userspace_addr = (uintptr_t)s->hva,
	};
	snprintf(f->what, sizeof(f->what), "memslot %u: %s%s", i,
		 del ? "delete" : s->used ? "set flags" : "create",
		 del ? "" : flag ? " with NON_COHERENT_DMA" : " without flags");
	want = !del && flag && !f->nc_cap ? EINVAL : 0;
	ret = __vm_ioctl(f->vm, KVM_SET_USER_MEMORY_REGION, &r);
	err = errno;
	expect(f, ret, err, want);
	if (!want) {
		s->used = !del;
		s->flagged = !del && flag;
	}
}

/* The model's answer to "can DMA bypass the caches?" for this VM. */
static bool model_noncoherent(struct fuzzer *f)
{
	int i;

	for (i = 0; i < nr_files && f->bridge >= 0; i++)
		if (f->attached[i] && !files[i].coherent)
			return true;
	for (i = 0; i < NR_SLOTS; i++)
		if (f->slot[i].used && f->slot[i].flagged)
			return true;
	return false;
}

/* The vCPU executes one WBINVD: KVM flushes iff DMA can be non-coherent. */
static void op_vcpu(struct fuzzer *f)
{
#ifdef __x86_64__
	uint64_t exits, flushes, want = model_noncoherent(f);
	struct ucall uc;
	bool check = !base_mode && wbinvd_exits && stat_has(&f->vcpu_stats, VS_EXITS) &&
		     stat_has(&f->vcpu_stats, VS_FLUSHES);

	snprintf(f->what, sizeof(f->what), "the vCPU executes WBINVD");
	stats_read(&f->vcpu_stats);
	exits = check ? stat_get(&f->vcpu_stats, VS_EXITS) : 0;
	flushes = check ? stat_get(&f->vcpu_stats, VS_FLUSHES) : 0;
	vcpu_run(f->vcpu);
	if (f->vcpu->run->exit_reason != KVM_EXIT_IO || get_ucall(f->vcpu, &uc) != UCALL_SYNC)
		mismatch(f, "the guest did not reach GUEST_SYNC: exit reason %u",
			 f->vcpu->run->exit_reason);
	if (!check)
		return;
	stats_read(&f->vcpu_stats);
	if (stat_get(&f->vcpu_stats, VS_EXITS) != exits + 1)
		mismatch(f, "wbinvd_exits went from %" PRIu64 " to %" PRIu64,
			 exits, stat_get(&f->vcpu_stats, VS_EXITS));
	if (stat_get(&f->vcpu_stats, VS_FLUSHES) != flushes + want)
		mismatch(f, "wbinvd_flushes went up by %" PRIu64 ", model says %" PRIu64,
			 stat_get(&f->vcpu_stats, VS_FLUSHES) - flushes, want);
#endif
}

/* Disable KVM_X86_QUIRK_IGNORE_GUEST_PAT: allowed where KVM offers it. */
static int do_quirk(struct fuzzer *f)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_DISABLE_QUIRKS2,
		.args[0] = KVM_X86_QUIRK_IGNORE_GUEST_PAT,
	};

	return __vm_ioctl(f->vm, KVM_ENABLE_CAP, &cap);
}

static void op_quirk(struct fuzzer *f)
{
	int ret, err;

	snprintf(f->what, sizeof(f->what), "disable KVM_X86_QUIRK_IGNORE_GUEST_PAT");
	ret = do_quirk(f);
	err = errno;
	expect(f, ret, err, quirks2 & KVM_X86_QUIRK_IGNORE_GUEST_PAT ? 0 : EINVAL);
}

/*
 * Failslab set up for fail-nth: GFP_KERNEL allocations can fail, quietly.
 * Returns NULL, or why fault injection is unavailable.
 */
static const char * const knobs[][2] = {
	{ FAILSLAB_DIR "ignore-gfp-wait", "N" },
	{ FAILSLAB_DIR "verbose", "0" },
};

static char knob_saved[ARRAY_SIZE(knobs)][8];

static void fail_nth_restore(void)
{
	unsigned int i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		if (!knob_saved[i][0])
			continue;
		fd = open(knobs[i][0], O_WRONLY | O_CLOEXEC);
		if (fd >= 0 && write(fd, knob_saved[i], strlen(knob_saved[i])) < 0)
			ksft_print_msg("restoring %s: %s\n", knobs[i][0], strerror(errno));
		if (fd >= 0)
			close(fd);
	}
}

static const char *fail_nth_setup(void)
{
	static char why[160];
	unsigned int i;
	ssize_t n;
	int fd;

	if (access(FAIL_NTH, W_OK))
		return FAIL_NTH " is not there (CONFIG_FAULT_INJECTION)";
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		fd = open(knobs[i][0], O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			n = read(fd, knob_saved[i], sizeof(knob_saved[i]) - 1);
			knob_saved[i][n > 0 ? n : 0] = '\0';
			close(fd);
		}
		fd = open(knobs[i][0], O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, knobs[i][1], 1) != 1) {
			snprintf(why, sizeof(why), "%s: %s (CONFIG_FAILSLAB)",
				 knobs[i][0], strerror(errno));
			if (fd >= 0)
				close(fd);
			return why;
		}
		close(fd);
	}
	return NULL;
}

/* Make this thread's @nth slab allocation from now on fail. */
static void fail_nth_arm(struct fuzzer *f, int nth)
{
	char buf[16];

	/* Opened first: its own allocations must not count. */
	f->fn.rfd = open(FAIL_NTH, O_RDONLY | O_CLOEXEC);
	TEST_ASSERT(f->fn.rfd >= 0, "open " FAIL_NTH);
	snprintf(buf, sizeof(buf), "%d", nth);
	TEST_ASSERT(write(f->fn.fd, buf, strlen(buf)) > 0, "arm " FAIL_NTH);
}

/* Disarm; true if the armed failure was injected. */
static bool fail_nth_disarm(struct fuzzer *f)
{
	char buf[16] = "";
	bool fired;

	TEST_ASSERT(read(f->fn.rfd, buf, sizeof(buf) - 1) > 0, "read " FAIL_NTH);
	fired = atoi(buf) == 0;
	TEST_ASSERT(write(f->fn.fd, "0", 1) == 1, "disarm " FAIL_NTH);
	close(f->fn.rfd);
	return fired;
}

enum sweep { SW_CREATE, SW_ADD, SW_DEL, SW_MEMSLOT, SW_QUIRK, NR_SWEEPS };

static const char * const sweep_name[NR_SWEEPS] = {
	"create", "ADD", "DEL", "memslot", "quirk",
};

/*
 * One call, for nth = 1, 2, ... until it succeeds with nothing injected:
 * each injected failure must give ENOMEM and change nothing the model
 * sees; a success that absorbed the failure is undone and the sweep goes
 * on.
 */
static void op_sweep(struct fuzzer *f)
{
	enum sweep kind = pick(f, NR_SWEEPS);
	struct kvm_userspace_memory_region r;
	struct kvm_create_device cd;
	unsigned int slot = pick(f, NR_SLOTS);
	bool flag = pick(f, 2) && f->nc_cap;
	int file = pick(f, 64);
	struct slot old = f->slot[slot];
	int nth, ret, err;
	int32_t fd;
	bool fired;

	file = nr_files ? file % nr_files : -1;
#ifndef __x86_64__
	if (kind == SW_MEMSLOT || kind == SW_QUIRK)
		kind = SW_CREATE;
#endif
	if (f->fn.fd < 0)
		return;
	if ((kind == SW_ADD || kind == SW_DEL) && (file < 0 || f->bridge < 0))
		kind = SW_CREATE;
	if (kind == SW_CREATE && f->bridge >= 0)
		bridge_close(f);
	if (kind == SW_ADD && f->attached[file])
		kind = SW_DEL;
	if (kind == SW_DEL && !f->attached[file])
		kind = SW_ADD;
	r = (struct kvm_userspace_memory_region) {
		.slot = 10 + slot,
		.flags = flag ? KVM_MEM_NON_COHERENT_DMA : 0,
		.guest_phys_addr = SLOT_GPA(slot),
		.memory_size = SLOT_PAGES * page_size,
		.userspace_addr = (uintptr_t)f->slot[slot].hva,
	};
	fd = file >= 0 ? files[file].fd : -1;

	for (nth = 1; nth <= SWEEP_MAX; nth++) {
		const char *arg = "";

		if (kind == SW_ADD || kind == SW_DEL)
			arg = files[file].env;
		else if (kind == SW_MEMSLOT)
			arg = flag ? "with NON_COHERENT_DMA" : "without flags";
		snprintf(f->what, sizeof(f->what), "fail-nth %d of %s %s", nth,
			 sweep_name[kind], arg);
		fail_nth_arm(f, nth);
		switch (kind) {
		case SW_CREATE:
			cd = (struct kvm_create_device) { .type = KVM_DEV_TYPE_VFIO };
			ret = __vm_ioctl(f->vm, KVM_CREATE_DEVICE, &cd);
			break;
		case SW_ADD:
		case SW_DEL:
			ret = set_attr(f, KVM_DEV_VFIO_FILE, kind == SW_ADD ?
				       KVM_DEV_VFIO_FILE_ADD : KVM_DEV_VFIO_FILE_DEL,
				       (uintptr_t)&fd);
			break;
		case SW_MEMSLOT:
			ret = __vm_ioctl(f->vm, KVM_SET_USER_MEMORY_REGION, &r);
			break;
		default:
			ret = do_quirk(f);
			break;
		}
		err = errno;
		fired = fail_nth_disarm(f);
		f->injected += fired;

		if (ret) {
			if (kind == SW_QUIRK && !(quirks2 & KVM_X86_QUIRK_IGNORE_GUEST_PAT))
				expect(f, ret, err, EINVAL);
			else if (!fired)
				mismatch(f, "failed (%s) with nothing injected", errname(ret, err));
			else if (err != EFAULT)	/* fail_usercopy, where it is built */
				expect(f, ret, err, ENOMEM);
			check_stats(f);
			if (kind == SW_QUIRK) {
				f->sweeps++;
				return;
			}
			continue;
		}
		/* Success: the model takes it, and must agree. */
		switch (kind) {
		case SW_CREATE:
			f->bridge = cd.fd;
			break;
		case SW_ADD:
		case SW_DEL:
			f->attached[file] = kind == SW_ADD;
			break;
		case SW_MEMSLOT:
			f->slot[slot].used = true;
			f->slot[slot].flagged = flag;
			break;
		default:
			break;
		}
		check_stats(f);
		if (!fired || kind == SW_QUIRK) {
			f->sweeps++;
			return;
		}
		/* The kernel absorbed the failure: undo, and go on sweeping. */
		switch (kind) {
		case SW_CREATE:
			bridge_close(f);
			break;
		case SW_ADD:
		case SW_DEL:
			ret = set_attr(f, KVM_DEV_VFIO_FILE, kind == SW_ADD ?
				       KVM_DEV_VFIO_FILE_DEL : KVM_DEV_VFIO_FILE_ADD,
				       (uintptr_t)&fd);
			expect(f, ret, errno, 0);
			f->attached[file] = kind != SW_ADD;
			break;
		case SW_MEMSLOT: {
			struct kvm_userspace_memory_region back = r;

			/* Back to how it was: deleted, or its old flags. */
			back.memory_size = old.used ? r.memory_size : 0;
			back.flags = old.used && old.flagged ? KVM_MEM_NON_COHERENT_DMA : 0;
			ret = __vm_ioctl(f->vm, KVM_SET_USER_MEMORY_REGION, &back);
			expect(f, ret, errno, 0);
			f->slot[slot] = old;
			break;
		}
		default:
			break;
		}
		check_stats(f);
	}
	mismatch(f, "%s never succeeded in %d tries", sweep_name[kind], SWEEP_MAX);
}

static void *fuzz_thread(void *arg)
{
	struct fuzzer *f = arg;
	int i;

	f->ktid = gettid();
	f->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	f->efd = eventfd(0, EFD_CLOEXEC);
	f->none_page = mmap(NULL, page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	f->ro_page = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(f->devnull >= 0 && f->efd >= 0 && f->none_page != MAP_FAILED &&
		    f->ro_page != MAP_FAILED, "thread setup");
	for (i = 0; i < NR_DUPS; i++)
		f->dup_fd[i] = -1;
	f->fn.fd = fail_nth_unavailable ? -1 : open(FAIL_NTH, O_WRONLY | O_CLOEXEC);
	for (i = 0; i < NR_SLOTS; i++) {
		f->slot[i].hva = mmap(NULL, SLOT_PAGES * page_size, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		TEST_ASSERT(f->slot[i].hva != MAP_FAILED, "mmap");
	}
	vm_new(f);

	for (f->step = 0; f->step < f->ops; f->step++) {
		unsigned int r = pick(f, 100);
		enum op op;

		__atomic_store_n(&f->beat, f->step, __ATOMIC_RELAXED);

		if (r < 25)
			op = OP_ADD;
		else if (r < 45)
			op = OP_DEL;
		else if (r < 50)
			op = OP_BAD_ATTR;
		else if (r < 55)
			op = OP_HAS_GET_ATTR;
		else if (r < 60)
			op = OP_CLOSE_BRIDGE;
		else if (r < 70)
			op = OP_DUP;
		else if (r < 80)
			op = OP_MEMSLOT;
		else if (r < 90)
			op = OP_CREATE;
		else if (r < 95)
			op = OP_VCPU;
		else if (r < 96)
			op = OP_QUIRK;
		else if (r < 99)
			op = OP_SWEEP;
		else
			op = OP_DESTROY_VM;
#ifndef __x86_64__
		/* Memslots (s390 wants 1 MiB ones), WBINVD and the quirk: x86. */
		if (op == OP_MEMSLOT || op == OP_VCPU || op == OP_QUIRK)
			op = OP_CREATE;
#endif
		/* Attribute operations need a bridge: create one instead. */
		if (f->bridge < 0 && op <= OP_CLOSE_BRIDGE)
			op = OP_CREATE;
		f->counts[op]++;
		__atomic_add_fetch(&total_ops, 1, __ATOMIC_RELAXED);

		switch (op) {
		case OP_ADD:
		case OP_DEL:
			op_file(f, op == OP_ADD);
			break;
		case OP_BAD_ATTR:
			op_bad_attr(f);
			break;
		case OP_HAS_GET_ATTR:
			op_has_get_attr(f);
			break;
		case OP_CLOSE_BRIDGE:
			snprintf(f->what, sizeof(f->what), "close the bridge");
			bridge_close(f);
			break;
		case OP_DUP:
			snprintf(f->what, sizeof(f->what), "dup() or close a dup");
			op_dup(f);
			break;
		case OP_MEMSLOT:
			op_memslot(f);
			break;
		case OP_CREATE:
			op_create(f);
			break;
		case OP_VCPU:
			op_vcpu(f);
			break;
		case OP_QUIRK:
			op_quirk(f);
			break;
		case OP_SWEEP:
			op_sweep(f);
			break;
		default:
			r = pick(f, 2);
			snprintf(f->what, sizeof(f->what), "destroy the VM, bridge %s",
				 r ? "closed last" : "closed first");
			vm_destroy(f, r);
			vm_new(f);
			break;
		}
		check_stats(f);
	}

	__atomic_store_n(&f->beat, f->step, __ATOMIC_RELAXED);
	snprintf(f->what, sizeof(f->what), "after the last step: destroy the VM, close the files");
	vm_destroy(f, pick(f, 2));
	for (i = 0; i < NR_DUPS; i++)
		if (f->dup_fd[i] >= 0)
			close(f->dup_fd[i]);
	for (i = 0; i < NR_SLOTS; i++)
		munmap(f->slot[i].hva, SLOT_PAGES * page_size);
	munmap(f->none_page, page_size);
	munmap(f->ro_page, page_size);
	close(f->devnull);
	close(f->efd);
	if (f->fn.fd >= 0)
		close(f->fn.fd);
	__atomic_store_n(&f->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* Print a file of /proc or debugfs, each line after @prefix. */
static void print_file(const char *path, const char *prefix, const char *if_empty)
{
	char buf[16384], *line, *save;
	size_t len = 0;
	ssize_t n = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("%s(%s: %s)\n", prefix, path, strerror(errno));
		return;
	}
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	if (n < 0)
		printf("%s(%s: %s)\n", prefix, path, strerror(errno));
	close(fd);
	buf[len] = 0;
	if (!len)
		printf("%s%s\n", prefix, if_empty);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		printf("%s%s\n", prefix, line);
	if (len == sizeof(buf) - 1)
		printf("%s(cut at %zu bytes)\n", prefix, len);
}

/* What moves in a VM that does not return: KVM's statistics, in debugfs. */
static const char * const stall_stat[] = {
	"exits", "wbinvd_exits", "wbinvd_flushes", "pf_taken", "pf_fixed",
	"pf_spurious", "pf_emulate", "pf_guest", "io_exits", "mmio_exits",
	"halt_exits", "irq_exits", "request_irq_exits", "signal_exits",
	"insn_emulation", "insn_emulation_fail", "tlb_flush", "nmi_injections",
	"irq_injections", "guest_mode", "mmu_unsync", "remote_tlb_flush",
};

#define NO_STAT	(~0ull)

/* The statistics of the VM that thread @ktid created as fd @vm_fd. */
static void read_stall_stats(pid_t ktid, int vm_fd, uint64_t *val)
{
	char path[128], buf[32];
	unsigned int i;
	ssize_t n;
	int fd;

	for (i = 0; i < ARRAY_SIZE(stall_stat); i++) {
		snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%d-%d/%s",
			 ktid, vm_fd, stall_stat[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = 0;
		val[i] = n > 0 ? strtoull(buf, NULL, 10) : NO_STAT;
	}
}

static void print_stack(struct fuzzer *f)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/stack", f->ktid);
	print_file(path, "#     ",
		   "(empty: the task is running on a CPU; see SysRq l on the console)");
}

/*
 * Thread @f has been at one step for @secs seconds: show where every
 * unfinished thread is (its step, its operation, its kernel stack; a thread
 * that waits may wait for another), sample the stuck one's stack twice more
 * a second apart and which of its VM's statistics move meanwhile, ask the
 * kernel for every CPU's backtrace and the blocked tasks (SysRq l and w, on
 * the console), and fail.  The stuck thread may still be running: only
 * what it published atomically (its VM's fd) is used to reach its VM.
 */
static void __noreturn stalled(struct fuzzer *fz, int threads, struct fuzzer *f, int secs)
{
	uint64_t before[ARRAY_SIZE(stall_stat)], after[ARRAY_SIZE(stall_stat)];
	int vm_fd = __atomic_load_n(&f->vm_fd, __ATOMIC_RELAXED);
	unsigned int i;
	int fd;

	flockfile(stdout);
	printf("# STALL: seed %#" PRIx64 ", thread %d at step %lu for %d s\n",
	       run_seed, f->tid, __atomic_load_n(&f->beat, __ATOMIC_RELAXED), secs);
	for (i = 0; i < (unsigned int)threads; i++) {
		if (__atomic_load_n(&fz[i].done, __ATOMIC_ACQUIRE))
			continue;
		printf("#   thread %d (task %d), step %lu: %s\n", fz[i].tid, fz[i].ktid,
		       __atomic_load_n(&fz[i].beat, __ATOMIC_RELAXED), fz[i].what);
		print_stack(&fz[i]);
	}
	if (vm_fd >= 0)
		read_stall_stats(f->ktid, vm_fd, before);
	for (i = 2; i <= 3; i++) {
		sleep(1);
		printf("#   thread %d, kernel stack, sample %u:\n", f->tid, i);
		print_stack(f);
	}
	sleep(1);
	if (vm_fd >= 0) {
		read_stall_stats(f->ktid, vm_fd, after);
		printf("#   its VM's statistics over 3 s (debugfs kvm/%d-%d):\n", f->ktid, vm_fd);
		for (i = 0; i < ARRAY_SIZE(stall_stat); i++)
			if (before[i] != NO_STAT && after[i] != NO_STAT)
				printf("#     %s %" PRIu64 " -> %" PRIu64 "\n",
				       stall_stat[i], before[i], after[i]);
	}
	funlockfile(stdout);
	fflush(stdout);
	fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "l", 1) != 1 || write(fd, "w", 1) != 1)
			printf("# SysRq: %s\n", strerror(errno));
		close(fd);
	}
	stall_fail(f, "no progress for %d s", secs);
}

/* Wait for the threads, and report one that stops advancing. */
static void watch(struct fuzzer *fz, int threads)
{
	unsigned long last[MAX_THREADS];
	int idle[MAX_THREADS] = { 0 };
	int i, left;

	for (i = 0; i < threads; i++)
		last[i] = ~0ul;
	do {
		sleep(1);
		left = 0;
		for (i = 0; i < threads; i++) {
			unsigned long beat = __atomic_load_n(&fz[i].beat, __ATOMIC_RELAXED);

			if (__atomic_load_n(&fz[i].done, __ATOMIC_ACQUIRE))
				continue;
			left++;
			if (beat != last[i]) {
				last[i] = beat;
				idle[i] = 0;
			} else if (stall_secs && ++idle[i] >= stall_secs) {
				stalled(fz, threads, &fz[i], idle[i]);
			}
		}
	} while (left);
}

static void open_files(void)
{
	unsigned int i, n;

	nr_files = 0;
	for (i = 0; i < ARRAY_SIZE(vfio_env); i++) {
		const char *path = getenv(vfio_env[i].env);

		if (!path || !*path)
			continue;
		/* A cdev opened twice is two files: both can be added. */
		for (n = 0; n < (vfio_env[i].group ? 1 : 2); n++) {
			struct vfio_file *v = &files[nr_files++];

			v->env = vfio_env[i].env;
			v->path = path;
			v->group = vfio_env[i].group;
			v->coherent = vfio_env[i].coherent;
			v->fd = open(path, O_RDWR | O_CLOEXEC);
			TEST_ASSERT(v->fd >= 0, "open(%s): %s", path, strerror(errno));
		}
	}
}

/* Every group is free again: it opens, and a new container takes it. */
static bool groups_released(void)
{
	bool ok = true;
	int i;

	for (i = 0; i < nr_files; i++) {
		struct vfio_group_status st = { .argsz = sizeof(st) };
		int g, c;

		if (!files[i].group)
			continue;
		g = open(files[i].path, O_RDWR | O_CLOEXEC);
		if (g < 0) {
			ksft_print_msg("%s (%s) cannot be opened again: %s\n",
				       files[i].env, files[i].path, strerror(errno));
			ok = false;
			continue;
		}
		c = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
		if (c < 0 || ioctl(g, VFIO_GROUP_GET_STATUS, &st) ||
		    !(st.flags & VFIO_GROUP_FLAGS_VIABLE) ||
		    ioctl(g, VFIO_GROUP_SET_CONTAINER, &c)) {
			ksft_print_msg("%s: not attachable to a new container: %s\n",
				       files[i].env, strerror(errno));
			ok = false;
		}
		if (c >= 0)
			close(c);
		close(g);
	}
	return ok;
}

static bool run(uint64_t seed, int threads, unsigned long ops)
{
	static struct fuzzer fz[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	unsigned long counts[NR_OPS] = { 0 }, sweeps = 0, injected = 0;
	char line[512];
	int len = 0;
	struct timespec t0, t1;
	bool released;
	double secs;
	int i, j;

	run_seed = seed;
	run_threads = threads;
	total_ops = 0;
	open_files();
	ksft_print_msg("seed %#" PRIx64 ": %d threads x %lu operations, %d VFIO files\n",
		       seed, threads, ops, nr_files);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < threads; i++) {
		memset(&fz[i], 0, sizeof(fz[i]));
		fz[i].tid = i;
		fz[i].ops = ops;
		fz[i].rng = seed * 0x9e3779b97f4a7c15ull + i + 1;
		if (!fz[i].rng)
			fz[i].rng = 1;
		TEST_ASSERT(!pthread_create(&th[i], NULL, fuzz_thread, &fz[i]),
			    "pthread_create");
	}
	watch(fz, threads);
	for (i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		for (j = 0; j < NR_OPS; j++)
			counts[j] += fz[i].counts[j];
		sweeps += fz[i].sweeps;
		injected += fz[i].injected;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	for (i = 0; i < nr_files; i++)
		close(files[i].fd);

	for (j = 0; j < NR_OPS; j++)
		len += snprintf(line + len, sizeof(line) - len, "%s%s %lu",
				j ? ", " : "", op_name[j], counts[j]);
	ksft_print_msg("seed %#" PRIx64 ": %lu operations in %.1f s (%.0f/s): %s\n",
		       seed, threads * ops, secs, threads * ops / secs, line);
	ksft_print_msg("seed %#" PRIx64 ": %lu fail-nth sweeps to success, %lu %s\n",
		       seed, sweeps, injected, "allocation failures injected");
	released = groups_released();
	if (!fail_nth_unavailable && !injected) {
		ksft_print_msg("fail-nth available, but no sweep injected a failure\n");
		released = false;
	}
	ksft_test_result(released,
			 "seed %#" PRIx64 ": %lu operations, model kept, every group released\n",
			 seed, threads * ops);
	return released;
}

int main(int argc, char **argv)
{
	unsigned long ops = DEFAULT_OPS;
	int threads = DEFAULT_THREADS, opt;
	uint64_t seed = 0, rseed;
	struct kvm_create_device cd = {
		.type = KVM_DEV_TYPE_VFIO,
		.flags = KVM_CREATE_DEVICE_TEST,
	};
	struct fuzzer probe = { 0 };
	struct rlimit rl;
	bool have_seed = false;

	while ((opt = getopt(argc, argv, "bs:t:n:w:")) != -1) {
		switch (opt) {
		case 'b':
			base_mode = true;
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			have_seed = true;
			break;
		case 't':
			threads = atoi(optarg);
			break;
		case 'n':
			ops = strtoul(optarg, NULL, 0);
			break;
		case 'w':
			stall_secs = atoi(optarg);
			if (stall_secs < 0 || (!stall_secs && strcmp(optarg, "0")))
				ksft_exit_fail_msg("-w: seconds, 0 for never\n");
			break;
		default:
			ksft_exit_fail_msg("usage: %s %s\n", argv[0], USAGE);
		}
	}
	if (threads <= 0 || threads > MAX_THREADS)
		ksft_exit_fail_msg("-t: 1 to %d threads\n", MAX_THREADS);
	/* Each line out as it is printed: a killed run keeps what it said. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	ksft_print_header();
	TEST_REQUIRE(kvm_check_cap(KVM_CAP_DEVICE_CTRL));
	page_size = getpagesize();
	/* About 16 fds per thread: make room. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	/*
	 * One VM first: the library fills its CPUID caches at the first VM
	 * creation, which threads must not race to do.  It also tells whether
	 * the kernel has the statistics to check.
	 */
#ifdef __x86_64__
	quirks2 = kvm_check_cap(KVM_CAP_DISABLE_QUIRKS2);
#endif
	vm_new(&probe);
	if (!base_mode && (!stat_has(&probe.vm_stats, ST_FILES) ||
			   !stat_has(&probe.vm_stats, ST_NONCOHERENT)))
		ksft_exit_skip("no vfio_files statistic: -b runs on a base kernel\n");
	if (__vm_ioctl(probe.vm, KVM_CREATE_DEVICE, &cd))
		ksft_exit_skip("no KVM_DEV_TYPE_VFIO: %s\n", strerror(errno));
#ifdef __x86_64__
	/* Without WBINVD exiting the guest's WBINVD runs natively. */
	if (stat_has(&probe.vcpu_stats, VS_EXITS)) {
		uint64_t before;

		stats_read(&probe.vcpu_stats);
		before = stat_get(&probe.vcpu_stats, VS_EXITS);
		vcpu_run(probe.vcpu);
		stats_read(&probe.vcpu_stats);
		wbinvd_exits = stat_get(&probe.vcpu_stats, VS_EXITS) == before + 1;
		if (!wbinvd_exits)
			ksft_print_msg("a guest WBINVD does not exit here: its checks are off\n");
	}
#endif
	vm_destroy(&probe, false);
	fail_nth_unavailable = fail_nth_setup();
	atexit(fail_nth_restore);
	if (fail_nth_unavailable)
		ksft_print_msg("no fail-nth sweeps: %s\n", fail_nth_unavailable);

	ksft_set_plan(have_seed ? 1 : 2);
	if (!getenv("KVM_VFIO_COHERENT_GROUP0") && !getenv("KVM_VFIO_NONCOHERENT_GROUP0"))
		ksft_print_msg("no VFIO files in the environment: bad fds and bridge life only\n");
	if (have_seed) {
		run(seed, threads, ops);
	} else {
		if (!run(FIXED_SEED, threads, ops))
			ksft_exit_fail_msg("VFIO files still held after seed %#x\n", FIXED_SEED);
		if (getrandom(&rseed, sizeof(rseed), 0) != sizeof(rseed))
			rseed = time(NULL);
		run(rseed, threads, ops);
	}
	ksft_finished();
}
