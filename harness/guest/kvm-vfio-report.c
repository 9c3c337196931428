// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-vfio-report: the non-coherent DMA series at work, for "make".
 *
 * Creates a VM with one vCPU and its VFIO bridge device, adds one coherent and
 * one non-coherent VFIO group (from /run/vfio.env via the environment), runs
 * guest code that executes WBINVD, flags a second memslot with
 * KVM_MEM_NON_COHERENT_DMA and has the guest write to it, then removes the
 * groups and closes the bridge.  It prints one table, a row per step and a
 * column per statistic of the series that moved, and under it the series'
 * kvm tracepoints that fired during each step, repeated lines collapsed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define STR(x)		#x
#define XSTR(x)		STR(x)

/* Guest memory: code in memslot 0 at GPA 0, real mode. */
#define WBINVDS		10		/* WBINVDs per guest run */
#define CODE_SIZE	0x10000
#define WBINVD_CODE	0x000		/* WBINVDS x wbinvd; hlt */
#define TOUCH_CODE	0x100		/* a store to each page of the flagged memslot */
#define NC_SLOT		1		/* the memslot flagged non-coherent */
#define NC_GPA		0x10000		/* real-mode DS 0x1000 */
#define NC_SIZE		0x10000		/* 16 pages: what DS reaches */
#define WIDTH		100		/* of the legend */

#define TRACEFS "/sys/kernel/tracing/"
static const char * const events[] = {
	"kvm/kvm_vfio_file", "kvm/kvm_noncoherent_dma", "kvm/kvm_guest_pat_quirk",
	"kvm/kvm_wbinvd", "kvm/kvm_noncoherent_memslot", "kvm/kvm_noncoherent_writeback",
};

/* The statistics of the series; a column is shown if its value moves. */
static struct {
	const char *name, *hdr;
	int vcpu;		/* a statistic of vCPU 0, not of the VM */
	long long off;		/* in its stats fd, -1 if this kernel lacks it */
} stats[] = {
	{ "vfio_files", "files" },
	{ "vfio_noncoherent_files", "ncfil" },
	{ "noncoherent_dma", "ncdma" },
	{ "noncoherent_dma_edges", "edges" },
	{ "guest_pat_zaps", "zaps" },
	{ "noncoherent_memslots", "slots" },
	{ "noncoherent_memslot_pages", "pages" },
	{ "noncoherent_writebacks", "wback" },
	{ "wbinvd_exits", "exits", 1 },
	{ "wbinvd_flushes", "flush", 1 },
	{ "wbinvd_cpus_flushed", "cpus", 1 },
};
#define NSTATS ARRAY_SIZE(stats)

#define MAX_STEPS	12
#define MAX_GROUPS	3	/* trace lines per step */

/* Trace lines of one event that differ at most in their hex numbers. */
struct tgroup {
	char ev[40];
	char msg[200];		/* the first line's text */
	unsigned int vary;	/* bit i: the i-th hex number differs between lines */
	int n;
};

static struct step {
	const char *name, *tag;
	char note[128];		/* "skipped: ..." or "FAILED: ...", shown instead of values */
	uint64_t val[NSTATS];
	struct tgroup tg[MAX_GROUPS];
	int ntg, more;		/* groups kept; lines left off */
} steps[MAX_STEPS];
static int nsteps, failed, have_trace;

static int vm_fd, vcpu_fd, stats_fd[2] = { -1, -1 };	/* VM, vCPU */
static struct kvm_run *run;

static void die(const char *what)
{
	printf("kvm-vfio-report: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void trace_setup(void)
{
	char path[128];
	unsigned int i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(events); i++) {
		snprintf(path, sizeof(path), TRACEFS "events/%s/enable", events[i]);
		fd = open(path, O_WRONLY);
		if (fd < 0)
			continue;
		have_trace += write(fd, "1", 1) == 1;
		close(fd);
	}
	close(open(TRACEFS "trace", O_WRONLY | O_TRUNC));
}

#define HEX "0123456789abcdefABCDEF"

/* Whether a and b are equal but for their hex numbers; if so, note which differ. */
static int same_but_hex(const char *a, const char *b, unsigned int *vary)
{
	unsigned int v = 0, k = 0;

	while (*a && *b) {
		if (!strncmp(a, "0x", 2) && !strncmp(b, "0x", 2)) {
			size_t la = strspn(a + 2, HEX) + 2, lb = strspn(b + 2, HEX) + 2;

			if (la != lb || strncmp(a, b, la))
				v |= 1u << (k < 31 ? k : 31);
			k++;
			a += la;
			b += lb;
		} else if (*a++ != *b++) {
			return 0;
		}
	}
	if (*a || *b)
		return 0;
	*vary |= v;
	return 1;
}

static void add_trace(struct step *s, const char *ev, const char *msg)
{
	struct tgroup *g;
	int i;

	for (i = 0; i < s->ntg; i++) {
		g = &s->tg[i];
		if (!strcmp(g->ev, ev) && same_but_hex(g->msg, msg, &g->vary)) {
			g->n++;
			return;
		}
	}
	if (s->ntg == MAX_GROUPS) {
		s->more++;
		return;
	}
	g = &s->tg[s->ntg++];
	snprintf(g->ev, sizeof(g->ev), "%s", ev);
	snprintf(g->msg, sizeof(g->msg), "%s", msg);
	g->n = 1;
}

/* Collect the events since the last call, without the trace's header. */
static void read_trace(struct step *s)
{
	char line[512];
	FILE *f = fopen(TRACEFS "trace", "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *ev = strstr(line, ": kvm_"), *msg;

		if (line[0] == '#' || !ev)
			continue;
		ev += 2;
		msg = strstr(ev, ": ");
		if (!msg)
			continue;
		*msg = '\0';
		msg += 2;
		msg[strcspn(msg, "\n")] = '\0';
		add_trace(s, ev, msg);
	}
	fclose(f);
	close(open(TRACEFS "trace", O_WRONLY | O_TRUNC));
}

/* Note where a stats fd holds the statistics of the series. */
static void find_stats(int fd, int vcpu)
{
	struct kvm_stats_header h;
	size_t dsz;
	char *descs;
	unsigned int i, j;

	if (fd < 0 || pread(fd, &h, sizeof(h), 0) != sizeof(h))
		return;
	dsz = sizeof(struct kvm_stats_desc) + h.name_size;
	descs = calloc(h.num_desc, dsz);
	if (!descs || pread(fd, descs, h.num_desc * dsz, h.desc_offset) < 0) {
		free(descs);
		return;
	}
	for (i = 0; i < h.num_desc; i++) {
		struct kvm_stats_desc *d = (void *)(descs + i * dsz);

		for (j = 0; j < NSTATS; j++)
			if (stats[j].vcpu == vcpu && d->size == 1 &&
			    !strcmp(d->name, stats[j].name))
				stats[j].off = h.data_offset + d->offset;
	}
	free(descs);
}

/* A step is done: take the statistics and the trace it left. */
static struct step *end_step(const char *name, const char *tag)
{
	struct step *s = &steps[nsteps++];
	unsigned int j;

	s->name = name;
	s->tag = tag;
	for (j = 0; j < NSTATS; j++)
		if (stats[j].off >= 0 &&
		    pread(stats_fd[stats[j].vcpu], &s->val[j], 8, stats[j].off) != 8)
			s->val[j] = 0;
	read_trace(s);
	return s;
}

static void note(struct step *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->note, sizeof(s->note), fmt, ap);
	va_end(ap);
	if (!strncmp(s->note, "FAILED", 6))
		failed = 1;
}

static int set_memslot(uint32_t slot, uint64_t gpa, uint64_t size, void *mem, uint32_t flags)
{
	struct kvm_userspace_memory_region2 r = {
		.slot = slot, .flags = flags, .guest_phys_addr = gpa,
		.memory_size = size, .userspace_addr = (uintptr_t)mem,
	};

	return ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION2, &r) ? -errno : 0;
}

static void vm_setup(void)
{
	static const uint8_t touch[] = {
		0xb8, 0x00, 0x10,	/* mov $0x1000, %ax */
		0x8e, 0xd8,		/* mov %ax, %ds: DS base NC_GPA */
		0x31, 0xdb,		/* xor %bx, %bx */
		0xc6, 0x07, 0x01,	/* 1: movb $1, (%bx) */
		0x81, 0xc3, 0x00, 0x10,	/* add $0x1000, %bx: the next page */
		0x75, 0xf7,		/* jnz 1b: 16 pages, up to the wrap */
		0xf4,			/* hlt: KVM_EXIT_HLT, no in-kernel LAPIC */
	};
	struct kvm_sregs sregs;
	uint8_t *mem;
	int kvm, size, i;

	kvm = open("/dev/kvm", O_RDWR);
	if (kvm < 0)
		die("/dev/kvm");
	vm_fd = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm_fd < 0)
		die("KVM_CREATE_VM");
	mem = mmap(NULL, CODE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	for (i = 0; i < WBINVDS; i++)
		memcpy(mem + WBINVD_CODE + 2 * i, "\x0f\x09", 2);	/* wbinvd */
	mem[WBINVD_CODE + 2 * WBINVDS] = 0xf4;				/* hlt */
	memcpy(mem + TOUCH_CODE, touch, sizeof(touch));
	errno = -set_memslot(0, 0, CODE_SIZE, mem, 0);
	if (errno)
		die("KVM_SET_USER_MEMORY_REGION2 (code)");
	/* VMX without unrestricted guest runs real mode in vm86: it needs a TSS. */
	if (ioctl(vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul))
		die("KVM_SET_TSS_ADDR");

	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	if (vcpu_fd < 0)
		die("KVM_CREATE_VCPU");
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < 0)
		die("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
	if (run == MAP_FAILED)
		die("mmap(vcpu)");
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs))
		die("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	sregs.ds.base = 0;
	sregs.ds.selector = 0;
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs))
		die("KVM_SET_SREGS");

	for (i = 0; i < (int)NSTATS; i++)
		stats[i].off = -1;
	stats_fd[0] = ioctl(vm_fd, KVM_GET_STATS_FD, NULL);
	stats_fd[1] = ioctl(vcpu_fd, KVM_GET_STATS_FD, NULL);
	find_stats(stats_fd[0], 0);
	find_stats(stats_fd[1], 1);
}

/* Run the guest from entry up to its HLT; on failure, say why in why. */
static int guest_run(uint64_t entry, char *why, size_t n)
{
	struct kvm_regs regs = { .rip = entry, .rflags = 2 };

	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs)) {
		snprintf(why, n, "FAILED: KVM_SET_REGS: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vcpu_fd, KVM_RUN, NULL)) {
		snprintf(why, n, "FAILED: KVM_RUN: %s", strerror(errno));
		return -1;
	}
	if (run->exit_reason == KVM_EXIT_HLT)
		return 0;
	if (run->exit_reason == KVM_EXIT_MMIO)
		snprintf(why, n, "FAILED: guest access to GPA 0x%llx outside its memslots",
			 (unsigned long long)run->mmio.phys_addr);
	else
		snprintf(why, n, "FAILED: the vCPU exited with reason %u, not HLT",
			 run->exit_reason);
	return -1;
}

static void wbinvd_step(const char *name, const char *tag)
{
	char why[128];
	int r = guest_run(WBINVD_CODE, why, sizeof(why));
	struct step *s = end_step(name, tag);

	if (r)
		note(s, "%s", why);
}

static void memslot_step(void)
{
	const char *name = "memslot flagged + touched", *tag = "memslot";
#ifdef KVM_CAP_MEMSLOT_NON_COHERENT_DMA
	char why[128] = "";
	uint8_t *mem;
	int r, i;

	mem = mmap(NULL, NC_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	r = set_memslot(NC_SLOT, NC_GPA, NC_SIZE, mem, KVM_MEM_NON_COHERENT_DMA);
	/* Where the flag would change nothing (AMD, shadow paging) KVM refuses it. */
	if (ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MEMSLOT_NON_COHERENT_DMA) <= 0) {
		if (r == -EINVAL)
			note(end_step("memslot flag refused", tag),
			     "KVM_CAP_MEMSLOT_NON_COHERENT_DMA is 0 for this VM (no EPT with the TDP MMU): EINVAL");
		else
			note(end_step(name, tag), "FAILED: capability 0 but the flag gave %s",
			     r ? strerror(-r) : "success");
		munmap(mem, NC_SIZE);
		return;
	}
	if (r)
		snprintf(why, sizeof(why), "FAILED: KVM_SET_USER_MEMORY_REGION2: %s", strerror(-r));
	else
		r = guest_run(TOUCH_CODE, why, sizeof(why));
	for (i = 0; !r && i < NC_SIZE; i += 4096)
		if (mem[i] != 1) {
			snprintf(why, sizeof(why), "FAILED: no guest store at 0x%x", NC_GPA + i);
			r = -1;
		}
	if (r)
		note(end_step(name, tag), "%s", why);
	else
		end_step(name, tag);
#else
	note(end_step(name, tag), "skipped: <linux/kvm.h> has no KVM_MEM_NON_COHERENT_DMA");
#endif
}

static int file_attr(int dev, uint64_t attr, int fd)
{
	int32_t fd32 = fd;
	struct kvm_device_attr a = {
		.group = KVM_DEV_VFIO_FILE, .attr = attr, .addr = (uintptr_t)&fd32,
	};

	return ioctl(dev, KVM_SET_DEVICE_ATTR, &a) ? -errno : 0;
}

/* ADD (add = 1) or DEL the coherent (nc = 0) or non-coherent group. */
static void vfio_step(int dev, int nc, int add)
{
	static const char * const env[2] = {
		"KVM_VFIO_COHERENT_GROUP0", "KVM_VFIO_NONCOHERENT_GROUP0",
	};
	static const char * const name[2][2] = {
		{ "DEL coherent group", "DEL non-coherent group" },
		{ "ADD coherent group", "ADD non-coherent group" },
	};
	static const char * const tag[2][2] = {
		{ "DEL coh", "DEL nc" }, { "ADD coh", "ADD nc" },
	};
	static int fds[2] = { -1, -1 };
	const char *path = getenv(env[nc]);
	const char *call = "KVM_SET_DEVICE_ATTR";
	struct step *s;
	int r = 0;

	if (!path) {
		note(end_step(name[add][nc], tag[add][nc]), "skipped: %s is not set", env[nc]);
		return;
	}
	if (!add && fds[nc] < 0) {
		note(end_step(name[add][nc], tag[add][nc]), "skipped: the group was not added");
		return;
	}
	if (add) {
		fds[nc] = open(path, O_RDWR);
		if (fds[nc] < 0) {
			r = -errno;
			call = "open";
		} else {
			r = file_attr(dev, KVM_DEV_VFIO_FILE_ADD, fds[nc]);
		}
	} else {
		r = file_attr(dev, KVM_DEV_VFIO_FILE_DEL, fds[nc]);
	}
	if ((!add || r) && fds[nc] >= 0) {
		close(fds[nc]);
		fds[nc] = -1;
	}
	s = end_step(name[add][nc], tag[add][nc]);
	if (r)
		note(s, "FAILED: %s(%s): %s", call, path, strerror(-r));
}

static void print_table(void)
{
	int show[NSTATS], w[NSTATS], lw = 4, col, i, j, shown = 0, vcpu = 0;
	char item[64];

	for (i = 0; i < nsteps; i++)
		if ((int)strlen(steps[i].name) > lw)
			lw = strlen(steps[i].name);
	for (j = 0; j < (int)NSTATS; j++) {
		show[j] = 0;
		w[j] = strlen(stats[j].hdr);
		for (i = 0; stats[j].off >= 0 && i < nsteps; i++) {
			int len = snprintf(NULL, 0, "%llu", (unsigned long long)steps[i].val[j]);

			show[j] |= steps[i].val[j] != 0;
			if (len > w[j])
				w[j] = len;
		}
		shown += show[j];
	}

	printf("\n%-*s", lw, "step");
	for (j = 0; j < (int)NSTATS; j++)
		if (show[j])
			printf(" %*s", w[j], stats[j].hdr);
	printf("\n");
	for (i = 0; i < nsteps; i++) {
		printf("%-*s", lw, steps[i].name);
		if (steps[i].note[0])
			printf(" %s", steps[i].note);
		for (j = 0; !steps[i].note[0] && j < (int)NSTATS; j++)
			if (show[j])
				printf(" %*llu", w[j], (unsigned long long)steps[i].val[j]);
		printf("\n");
	}
	if (!shown) {
		printf("(no statistic of the series moved: is this kernel patched?)\n");
		return;
	}
	col = printf("VM stats:");
	for (j = 0; j < (int)NSTATS; j++) {
		if (!show[j])
			continue;
		snprintf(item, sizeof(item), "%s%s=%s", stats[j].vcpu && !vcpu++ ? "vCPU 0: " : "",
			 stats[j].hdr, stats[j].name);
		if (col + 1 + (int)strlen(item) > WIDTH)
			col = printf("\n ") - 1;
		col += printf(" %s", item);
	}
	printf("\n");
}

static void print_trace(void)
{
	unsigned int k, bit = 0;
	const char *m;
	int i, j, lines = 0;

	printf("\ntracepoints, by step:\n");
	for (i = 0; i < nsteps; i++) {
		struct step *s = &steps[i];

		for (j = 0; j < s->ntg; j++, lines++) {
			struct tgroup *g = &s->tg[j];

			printf("  %-8s %s", s->tag, g->ev);
			if (g->n > 1)
				printf(" x%d", g->n);
			printf(": ");
			/* The hex numbers that differ between the lines show as "*". */
			for (m = g->msg, k = 0; *m; ) {
				size_t len = 1;

				if (!strncmp(m, "0x", 2)) {
					bit = 1u << (k < 31 ? k : 31);
					len = 2 + strspn(m + 2, HEX);
					k++;
				}
				if (len > 1 && (g->vary & bit))
					putchar('*');
				else
					fwrite(m, 1, len, stdout);
				m += len;
			}
			printf("\n");
		}
		if (s->more)
			printf("  %-8s (%d more lines)\n", s->tag, s->more);
	}
	if (!lines)
		printf("  %s\n", have_trace ? "(none fired)" :
		       "(this kernel has none of the tracepoints of the series)");
}

int main(void)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };
	const char *coh = getenv("KVM_VFIO_COHERENT_GROUP0");
	const char *nc = getenv("KVM_VFIO_NONCOHERENT_GROUP0");

	printf("KVM and non-coherent DMA: a VM with 1 vCPU, its VFIO bridge, a flagged memslot\n");
	printf("coherent group: %s, non-coherent group: %s\n",
	       coh ? coh : "none", nc ? nc : "none");
	trace_setup();
	vm_setup();
	end_step("VM created", "VM");
	if (ioctl(vm_fd, KVM_CREATE_DEVICE, &cd))
		die("KVM_CREATE_DEVICE(KVM_DEV_TYPE_VFIO)");
	end_step("bridge created", "bridge");
	vfio_step(cd.fd, 0, 1);
	vfio_step(cd.fd, 1, 1);
	wbinvd_step("guest WBINVD x" XSTR(WBINVDS), "WBINVD");
	memslot_step();
	vfio_step(cd.fd, 1, 0);
	wbinvd_step("guest WBINVD x" XSTR(WBINVDS) " again", "again");
	vfio_step(cd.fd, 0, 0);
	close(cd.fd);
	end_step("bridge closed", "closed");

	print_table();
	print_trace();
	return failed;
}
