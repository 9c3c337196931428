// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_iova_ranges: the IOVA ranges a VFIO client reads before it maps guest
 * memory, for the coherent edu device behind the emulated intel-iommu.
 *
 *  - type1: the group in a new container, VFIO_TYPE1v2_IOMMU, then the
 *    VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE capability of VFIO_IOMMU_GET_INFO;
 *  - iommufd: the device cdev bound to a new iommufd, IOMMU_IOAS_IOVA_RANGES
 *    of an IOAS before and after VFIO_DEVICE_ATTACH_IOMMUFD_PT.
 *
 * x86 reserves the MSI window 0xfee00000-0xfeefffff for interrupt remapping:
 * no usable range may overlap it, and with it attached the ranges must stop
 * right below it and resume right above it.  An empty IOAS has no
 * reservation.  TAP output; the group and cdev come from /run/vfio.env
 * (KVM_VFIO_COHERENT_GROUP0, KVM_VFIO_COHERENT_DEVICE0).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>

#define MSI_START	0xfee00000ULL
#define MSI_END		0xfeefffffULL
#define MAX_RANGES	64
#define STR(x)		#x
#define XSTR(x)		STR(x)

struct range { uint64_t start, end; };

static int tests;
static int failed;

static void result(int ok, const char *what)
{
	printf("%sok %d %s\n", ok ? "" : "not ", ++tests, what);
	failed += !ok;
}

static void skip(const char *what, const char *why)
{
	printf("ok %d %s # SKIP %s\n", ++tests, what, why);
}

static void show(const char *who, const struct range *r, int n)
{
	for (int i = 0; i < n; i++)
		printf("# %s: range %d: 0x%llx-0x%llx\n", who, i,
		       (unsigned long long)r[i].start, (unsigned long long)r[i].end);
}

/* Sorted, disjoint, clear of the MSI window; with @msi_excluded, bordering it. */
static void check_ranges(const char *who, const struct range *r, int n, int msi_excluded)
{
	int sorted = n > 0, clear = 1, below = 0, above = 0;
	char what[160];

	for (int i = 0; i < n; i++) {
		if (r[i].start > r[i].end || (i && r[i].start <= r[i - 1].end))
			sorted = 0;
		if (r[i].start <= MSI_END && r[i].end >= MSI_START)
			clear = 0;
		below |= r[i].end == MSI_START - 1;
		above |= r[i].start == MSI_END + 1;
	}
	snprintf(what, sizeof(what), "%s: %d ranges, sorted and disjoint", who, n);
	result(sorted, what);
	if (msi_excluded) {
		snprintf(what, sizeof(what),
			 "%s: no range overlaps the MSI window 0x%llx-0x%llx", who,
			 MSI_START, MSI_END);
		result(clear, what);
		snprintf(what, sizeof(what),
			 "%s: ranges end at 0x%llx and resume at 0x%llx (exactly the window)",
			 who, MSI_START - 1, MSI_END + 1);
		result(below && above, what);
	} else {
		snprintf(what, sizeof(what), "%s: one range covers all IOVAs", who);
		result(n == 1 && r[0].start == 0 && r[0].end == UINT64_MAX, what);
	}
}

static void type1(const char *group_path)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct vfio_iommu_type1_info *info;
	struct vfio_info_cap_header *hdr;
	struct vfio_iommu_type1_info_cap_iova_range *cap = NULL;
	struct range r[MAX_RANGES];
	int container, group, n = 0;
	uint32_t off;

	container = open("/dev/vfio/vfio", O_RDWR);
	group = open(group_path, O_RDWR);
	if (container < 0 || group < 0) {
		result(0, "type1: /dev/vfio/vfio and the group open");
		goto out;
	}
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) ||
	    !(status.flags & VFIO_GROUP_FLAGS_VIABLE) ||
	    ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) ||
	    ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
		printf("# type1: %s\n", strerror(errno));
		result(0, "type1: the group is set in a TYPE1v2 container");
		goto out;
	}
	info = calloc(1, sizeof(*info));
	if (!info)
		goto out;
	info->argsz = sizeof(*info);
	if (ioctl(container, VFIO_IOMMU_GET_INFO, info)) {
		result(0, "type1: VFIO_IOMMU_GET_INFO");
		free(info);
		goto out;
	}
	if (info->argsz > sizeof(*info)) {
		uint32_t need = info->argsz;

		free(info);
		info = calloc(1, need);
		if (!info)
			goto out;
		info->argsz = need;
		if (ioctl(container, VFIO_IOMMU_GET_INFO, info)) {
			result(0, "type1: VFIO_IOMMU_GET_INFO with its capabilities");
			free(info);
			goto out;
		}
	}
	for (off = (info->flags & VFIO_IOMMU_INFO_CAPS) ? info->cap_offset : 0;
	     off && off + sizeof(*hdr) <= info->argsz; off = hdr->next) {
		hdr = (void *)info + off;
		if (hdr->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE)
			cap = (void *)hdr;
	}
	result(cap != NULL, "type1: VFIO_IOMMU_GET_INFO has the IOVA range capability");
	if (cap && (void *)&cap->iova_ranges[cap->nr_iovas] > (void *)info + info->argsz) {
		result(0, "type1: the IOVA range capability fits in argsz");
		cap = NULL;
	}
	if (cap) {
		result(cap->nr_iovas <= MAX_RANGES, "type1: at most " XSTR(MAX_RANGES) " ranges");
		for (n = 0; n < (int)cap->nr_iovas && n < MAX_RANGES; n++) {
			r[n].start = cap->iova_ranges[n].start;
			r[n].end = cap->iova_ranges[n].end;
		}
		show("type1", r, n);
		check_ranges("type1", r, n, 1);
	}
	free(info);
out:
	if (group >= 0)
		close(group);
	if (container >= 0)
		close(container);
}

static int ioas_ranges(int iommufd, uint32_t ioas, struct range *r)
{
	struct iommu_ioas_iova_ranges q = {
		.size = sizeof(q), .ioas_id = ioas, .num_iovas = MAX_RANGES,
		.allowed_iovas = (uintptr_t)r,
	};

	if (ioctl(iommufd, IOMMU_IOAS_IOVA_RANGES, &q))
		return -errno;	/* EMSGSIZE: more than MAX_RANGES */
	return q.num_iovas;
}

static void iommufd(const char *cdev_path)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct vfio_device_bind_iommufd bind = { .argsz = 16 };	/* up to out_devid */
	struct vfio_device_attach_iommufd_pt attach = { .argsz = 12 };	/* up to pt_id */
	struct range r[MAX_RANGES];
	int fd, dev, n;

	fd = open("/dev/iommu", O_RDWR);
	dev = open(cdev_path, O_RDWR);
	if (fd < 0 || dev < 0) {
		result(0, "iommufd: /dev/iommu and the cdev open");
		goto out;
	}
	if (ioctl(fd, IOMMU_IOAS_ALLOC, &alloc)) {
		result(0, "iommufd: IOMMU_IOAS_ALLOC");
		goto out;
	}
	n = ioas_ranges(fd, alloc.out_ioas_id, r);
	result(n > 0, "iommufd: IOMMU_IOAS_IOVA_RANGES of an empty IOAS");
	if (n > 0) {
		show("empty IOAS", r, n);
		check_ranges("empty IOAS", r, n, 0);
	}
	bind.iommufd = fd;
	attach.pt_id = alloc.out_ioas_id;
	if (ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &bind) ||
	    ioctl(dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach)) {
		printf("# iommufd: %s\n", strerror(errno));
		result(0, "iommufd: the cdev binds and attaches to the IOAS");
		goto out;
	}
	n = ioas_ranges(fd, alloc.out_ioas_id, r);
	result(n > 0, "iommufd: IOMMU_IOAS_IOVA_RANGES with edu attached");
	if (n > 0) {
		show("IOAS with edu", r, n);
		check_ranges("IOAS with edu", r, n, 1);
	}
out:
	if (dev >= 0)
		close(dev);
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	const char *group = getenv("KVM_VFIO_COHERENT_GROUP0");
	const char *cdev = getenv("KVM_VFIO_COHERENT_DEVICE0");

	printf("TAP version 13\n");
	if (group)
		type1(group);
	else
		skip("type1: IOVA ranges", "no coherent VFIO group in this VM");
	if (cdev)
		iommufd(cdev);
	else
		skip("iommufd: IOVA ranges", "no coherent VFIO device cdev in this VM");
	printf("1..%d\n", tests);
	return failed ? 1 : 0;
}
