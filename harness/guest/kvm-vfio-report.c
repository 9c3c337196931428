// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-vfio-report: show the KVM-VFIO bridge at work, for "make".
 *
 * Creates a VM and its VFIO bridge device, adds and removes one coherent and
 * one non-coherent VFIO group (from /run/vfio.env via the environment), and
 * after each step prints what the kernel says about the VM's non-coherent DMA
 * state: every VM statistic whose name mentions vfio, coherency or wbinvd,
 * and the kvm tracepoints about VFIO files and non-coherent DMA that fired.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

static int vm_fd, stats_fd;

#define TRACEFS "/sys/kernel/tracing/"
/* Tracepoints to show, if this kernel has them. */
static const char * const events[] = {
	"kvm/kvm_vfio_file", "kvm/kvm_noncoherent_dma", "kvm/kvm_wbinvd",
};

static void trace_setup(void)
{
	char path[128];
	unsigned int i;
	int fd, found = 0;

	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		snprintf(path, sizeof(path), TRACEFS "events/%s/enable", events[i]);
		fd = open(path, O_WRONLY);
		if (fd < 0)
			continue;
		found += write(fd, "1", 1) == 1;
		close(fd);
	}
	close(open(TRACEFS "trace", O_WRONLY | O_TRUNC));
	if (!found)
		printf("(this kernel has none of the tracepoints this report shows)\n");
}

/* Print the events since the last call, without trace's header. */
static void show_trace(void)
{
	char line[512];
	FILE *f = fopen(TRACEFS "trace", "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *ev = strstr(line, ": kvm_");

		if (line[0] != '#' && ev)
			printf("    trace: %s", ev + 2);
	}
	fclose(f);
	close(open(TRACEFS "trace", O_WRONLY | O_TRUNC));
}

static int interesting(const char *name)
{
	static const char * const words[] = { "vfio", "coherent", "wbinvd" };
	unsigned int i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(name, words[i]))
			return 1;
	return 0;
}

static void show_stats(const char *when)
{
	struct kvm_stats_header h;
	size_t dsz;
	char *descs;
	int i, shown = 0;

	printf("  after %s:\n", when);
	if (pread(stats_fd, &h, sizeof(h), 0) != sizeof(h)) {
		printf("    (cannot read the VM's statistics: %s)\n", strerror(errno));
		return;
	}
	dsz = sizeof(struct kvm_stats_desc) + h.name_size;
	descs = calloc(h.num_desc, dsz);
	if (!descs || pread(stats_fd, descs, h.num_desc * dsz, h.desc_offset) < 0) {
		printf("    (cannot read the statistics descriptors)\n");
		free(descs);
		return;
	}
	for (i = 0; i < (int)h.num_desc; i++) {
		struct kvm_stats_desc *d = (void *)(descs + i * dsz);
		uint64_t v;

		if (!interesting(d->name) || d->size != 1)
			continue;
		if (pread(stats_fd, &v, sizeof(v), h.data_offset + d->offset) != sizeof(v))
			continue;
		printf("    %-32s %llu\n", d->name, (unsigned long long)v);
		shown++;
	}
	if (!shown)
		printf("    (this kernel exposes no VM statistic about VFIO or non-coherent DMA)\n");
	free(descs);
	show_trace();
}

static int file_attr(int dev, uint64_t attr, int fd)
{
	int32_t fd32 = fd;
	struct kvm_device_attr a = {
		.group = KVM_DEV_VFIO_FILE, .attr = attr, .addr = (uintptr_t)&fd32,
	};

	return ioctl(dev, KVM_SET_DEVICE_ATTR, &a) ? -errno : 0;
}

static int step(int dev, uint64_t attr, const char *what, const char *path)
{
	static int fds[2];
	int slot = !!strstr(what, "non-coherent");
	int r;

	if (!path) {
		printf("\n%s %s: no such VFIO group in this VM, step skipped\n",
		       attr == KVM_DEV_VFIO_FILE_ADD ? "ADD" : "DEL", what);
		return 0;
	}
	if (attr == KVM_DEV_VFIO_FILE_ADD) {
		fds[slot] = open(path, O_RDWR);
		if (fds[slot] < 0) {
			printf("\ncannot open %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	r = file_attr(dev, attr, fds[slot]);
	printf("\n%s %s (%s): %s\n", attr == KVM_DEV_VFIO_FILE_ADD ? "ADD" : "DEL",
	       what, path, r ? strerror(-r) : "ok");
	show_stats(attr == KVM_DEV_VFIO_FILE_ADD ? "ADD" : "DEL");
	if (attr == KVM_DEV_VFIO_FILE_DEL)
		close(fds[slot]);
	return r != 0;
}

int main(void)
{
	const char *coh = getenv("KVM_VFIO_COHERENT_GROUP0");
	const char *nc = getenv("KVM_VFIO_NONCOHERENT_GROUP0");
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };
	int kvm, failed = 0;

	printf("KVM-VFIO bridge report\n======================\n");
	kvm = open("/dev/kvm", O_RDWR);
	if (kvm < 0) {
		printf("/dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	vm_fd = ioctl(kvm, KVM_CREATE_VM, 0);
	stats_fd = ioctl(vm_fd, KVM_GET_STATS_FD, NULL);
	if (vm_fd < 0 || stats_fd < 0) {
		printf("cannot create a VM and its statistics fd: %s\n", strerror(errno));
		return 1;
	}
	trace_setup();
	printf("VM created; coherent group: %s; non-coherent group: %s\n",
	       coh ? coh : "none", nc ? nc : "none");
	show_stats("VM creation");
	if (ioctl(vm_fd, KVM_CREATE_DEVICE, &cd)) {
		printf("KVM_CREATE_DEVICE(KVM_DEV_TYPE_VFIO): %s\n", strerror(errno));
		return 1;
	}
	printf("\nKVM_CREATE_DEVICE(KVM_DEV_TYPE_VFIO): fd %d\n", cd.fd);
	show_stats("creating the bridge");

	failed |= step(cd.fd, KVM_DEV_VFIO_FILE_ADD, "coherent group", coh);
	failed |= step(cd.fd, KVM_DEV_VFIO_FILE_ADD, "non-coherent group", nc);
	failed |= step(cd.fd, KVM_DEV_VFIO_FILE_DEL, "non-coherent group", nc);
	failed |= step(cd.fd, KVM_DEV_VFIO_FILE_DEL, "coherent group", coh);
	close(cd.fd);
	printf("\nbridge closed\n");
	show_stats("closing the bridge");
	return failed;
}
