// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_vfio_test - exercise the KVM-VFIO bridge pseudo-device
 * (KVM_CREATE_DEVICE with type KVM_DEV_TYPE_VFIO).
 *
 * The first set of cases only needs /dev/kvm.  They pin down the device's
 * user ABI: the creation rules (test flag, one bridge per VM), which
 * attributes are advertised, and the error reported by
 * KVM_DEV_VFIO_FILE_ADD/DEL for bad addresses, bad fd numbers, files that
 * are not VFIO group or device files, and files added twice or never added.
 *
 * The other cases hand real VFIO files to the bridge.  After every step they
 * check the per-VM statistics "vfio_files" (files held by the bridge) and
 * "vfio_noncoherent_files" (how many of those lack enforced DMA cache
 * coherency), and they check that the bridge lets go of its file references
 * when a file is deleted, when the bridge fd is closed, when the VM is
 * destroyed, and when all of this races.  Their files come from the
 * environment; a case is skipped when a variable it needs is unset:
 *
 *   KVM_VFIO_COHERENT_GROUP0      a VFIO group whose device sits behind an
 *                                 IOMMU enforcing cache coherency
 *   KVM_VFIO_COHERENT_DEVICE0     the VFIO device cdev of that same device
 *   KVM_VFIO_NONCOHERENT_GROUP0   two VFIO groups without enforced
 *   KVM_VFIO_NONCOHERENT_GROUP1   coherency (e.g. mdevs with no IOMMU)
 *   KVM_VFIO_NONCOHERENT_DEVICE0  the cdev of such a non-coherent device
 *
 * A VFIO group file can only be open once at a time, so each case closes
 * every group fd it opened (and drops the bridge and VM) before it ends;
 * several cases then reopen the groups to prove that KVM let go of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/kvm.h>
#include <linux/vfio.h>

#include "kvm_util.h"
#include "kselftest_harness.h"

/* Generous per-case limit: the cases must also pass under TCG + KASAN. */
#define CASE_TIMEOUT		120

#define STAT_FILES		"vfio_files"
#define STAT_NONCOHERENT	"vfio_noncoherent_files"
#define STAT_MISSING		(~0ull)

#define VFIO_FILE		KVM_DEV_VFIO_FILE
#define FILE_ADD		KVM_DEV_VFIO_FILE_ADD
#define FILE_DEL		KVM_DEV_VFIO_FILE_DEL
/* Only meaningful with SPAPR TCE IOMMU support, i.e. never on x86. */
#define FILE_SPAPR_TCE		3

enum vfio_file_id {
	COHERENT_GROUP0,
	NONCOHERENT_GROUP0,
	NONCOHERENT_GROUP1,
	COHERENT_DEVICE0,
	NONCOHERENT_DEVICE0,
	NR_VFIO_FILE_IDS,
};

static const struct {
	const char *env;
	bool group;
	bool coherent;
} vfio_file_info[NR_VFIO_FILE_IDS] = {
	[COHERENT_GROUP0]     = { "KVM_VFIO_COHERENT_GROUP0",     true,  true  },
	[NONCOHERENT_GROUP0]  = { "KVM_VFIO_NONCOHERENT_GROUP0",  true,  false },
	[NONCOHERENT_GROUP1]  = { "KVM_VFIO_NONCOHERENT_GROUP1",  true,  false },
	[COHERENT_DEVICE0]    = { "KVM_VFIO_COHERENT_DEVICE0",    false, true  },
	[NONCOHERENT_DEVICE0] = { "KVM_VFIO_NONCOHERENT_DEVICE0", false, false },
};

#define ALL_GROUP_VARS	"KVM_VFIO_COHERENT_GROUP0, KVM_VFIO_NONCOHERENT_GROUP0 " \
			"and KVM_VFIO_NONCOHERENT_GROUP1"
#define ALL_DEVICE_VARS	"KVM_VFIO_COHERENT_DEVICE0 and KVM_VFIO_NONCOHERENT_DEVICE0"

static const char *vfio_file_path(enum vfio_file_id id)
{
	const char *path = getenv(vfio_file_info[id].env);

	return path && *path ? path : NULL;
}

static bool have_any(bool groups)
{
	enum vfio_file_id id;

	for (id = 0; id < NR_VFIO_FILE_IDS; id++)
		if (vfio_file_info[id].group == groups && vfio_file_path(id))
			return true;
	return false;
}

/* First configured group, coherent one preferred, or NR_VFIO_FILE_IDS. */
static enum vfio_file_id first_group(void)
{
	enum vfio_file_id id;

	for (id = 0; id < NR_VFIO_FILE_IDS; id++)
		if (vfio_file_info[id].group && vfio_file_path(id))
			return id;
	return NR_VFIO_FILE_IDS;
}

/*
 * What a case needs before it can run.  Each test checks these itself and
 * skips with SKIP(return, ...) naming the variables to set.
 */
static bool have_any_group(void)
{
	return have_any(true);
}

static bool have_any_device(void)
{
	return have_any(false);
}

/* The variable naming @id if it is not set, else NULL. */
static const char *unset_var(enum vfio_file_id id)
{
	return vfio_file_path(id) ? NULL : vfio_file_info[id].env;
}

/* Succeeds, reporting errno on failure. */
#define ASSERT_OK(_call)						\
do {									\
	int __ret = (_call);						\
	int __err = errno;						\
									\
	ASSERT_EQ(0, __ret)						\
		TH_LOG("%s failed: %s", #_call, strerror(__err));	\
} while (0)

/* Fails with exactly errno _err; _fmt adds context to the report. */
#define ASSERT_FAILS_CTX(_err, _call, _fmt, ...)			\
do {									\
	int __ret = (_call);						\
	int __err = errno;						\
									\
	ASSERT_EQ(-1, __ret)						\
		TH_LOG("%s: returned %d, wanted %s " _fmt, #_call,	\
		       __ret, strerror(_err), ##__VA_ARGS__);		\
	ASSERT_EQ(_err, __err)						\
		TH_LOG("%s: got '%s', wanted '%s' " _fmt, #_call,	\
		       strerror(__err), strerror(_err), ##__VA_ARGS__);	\
} while (0)

#define ASSERT_FAILS(_err, _call)	ASSERT_FAILS_CTX(_err, _call, "")

static uint64_t read_vm_stat(struct kvm_vm *vm, const char *name)
{
	uint64_t val = STAT_MISSING;

	kvm_get_stat(&vm->stats, name, &val, 1);
	TEST_ASSERT(val != STAT_MISSING, "VM statistic '%s' not found", name);
	return val;
}

#define ASSERT_VFIO_STATS(_vm, _files, _noncoherent)			\
do {									\
	ASSERT_EQ((uint64_t)(_files), read_vm_stat(_vm, STAT_FILES));	\
	ASSERT_EQ((uint64_t)(_noncoherent),				\
		  read_vm_stat(_vm, STAT_NONCOHERENT));			\
} while (0)

/* KVM_DEV_VFIO_FILE_ADD/DEL take a pointer to an int32_t fd. */
static int bridge_file_op(int bridge, uint64_t op, int32_t fd)
{
	int32_t val = fd;

	return __kvm_device_attr_set(bridge, VFIO_FILE, op, &val);
}

static int bridge_add(int bridge, int32_t fd)
{
	return bridge_file_op(bridge, FILE_ADD, fd);
}

static int bridge_del(int bridge, int32_t fd)
{
	return bridge_file_op(bridge, FILE_DEL, fd);
}

static int open_vfio_file(struct __test_metadata *_metadata,
			  enum vfio_file_id id)
{
	const char *path = vfio_file_path(id);
	int fd, err;

	ASSERT_NE(NULL, path);
	fd = open(path, O_RDWR | O_CLOEXEC);
	err = errno;
	ASSERT_LE(0, fd)
		TH_LOG("open(%s) (%s): %s", path, vfio_file_info[id].env,
		       strerror(err));
	return fd;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* A bunch of configured VFIO files, opened together. */
struct vfio_set {
	int nr;
	enum vfio_file_id id[NR_VFIO_FILE_IDS];
	int fd[NR_VFIO_FILE_IDS];
};

static void open_vfio_set(struct __test_metadata *_metadata,
			  struct vfio_set *set, bool groups, bool devices)
{
	enum vfio_file_id id;

	set->nr = 0;
	for (id = 0; id < NR_VFIO_FILE_IDS; id++) {
		bool want = vfio_file_info[id].group ? groups : devices;

		if (!want || !vfio_file_path(id))
			continue;
		set->id[set->nr] = id;
		set->fd[set->nr] = open_vfio_file(_metadata, id);
		set->nr++;
	}
}

static void close_vfio_set(struct vfio_set *set)
{
	int i;

	for (i = 0; i < set->nr; i++)
		close_fd(&set->fd[i]);
}

/* ADD every file of @set, checking the statistics after each step. */
static void add_vfio_set(struct __test_metadata *_metadata, struct kvm_vm *vm,
			 int bridge, struct vfio_set *set)
{
	int i, noncoherent = 0;

	for (i = 0; i < set->nr; i++) {
		ASSERT_OK(bridge_add(bridge, set->fd[i]));
		if (!vfio_file_info[set->id[i]].coherent)
			noncoherent++;
		ASSERT_VFIO_STATS(vm, i + 1, noncoherent);
	}
}

/*
 * Open a group that KVM has released and put it to use: it must be viable,
 * attachable to a fresh container, and the container must accept a type1
 * IOMMU backend.
 */
static void assert_group_reusable(struct __test_metadata *_metadata,
				  enum vfio_file_id id)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	int group, container, type;

	group = open_vfio_file(_metadata, id);
	ASSERT_OK(ioctl(group, VFIO_GROUP_GET_STATUS, &status));
	ASSERT_TRUE(status.flags & VFIO_GROUP_FLAGS_VIABLE);
	ASSERT_FALSE(status.flags & VFIO_GROUP_FLAGS_CONTAINER_SET);

	container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (container < 0) {
		TH_LOG("no /dev/vfio/vfio (%s): container attach of %s not checked",
		       strerror(errno), vfio_file_info[id].env);
		close(group);
		return;
	}
	ASSERT_EQ(VFIO_API_VERSION, ioctl(container, VFIO_GET_API_VERSION));
	ASSERT_OK(ioctl(group, VFIO_GROUP_SET_CONTAINER, &container));

	if (ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0) {
		type = VFIO_TYPE1v2_IOMMU;
	} else {
		type = VFIO_TYPE1_IOMMU;
		ASSERT_LT(0, ioctl(container, VFIO_CHECK_EXTENSION, type))
			TH_LOG("container supports neither type1 IOMMU flavour");
	}
	ASSERT_OK(ioctl(container, VFIO_SET_IOMMU, type));

	status.flags = 0;
	ASSERT_OK(ioctl(group, VFIO_GROUP_GET_STATUS, &status));
	ASSERT_TRUE(status.flags & VFIO_GROUP_FLAGS_CONTAINER_SET);

	close(group);
	close(container);
}

static void assert_groups_reusable(struct __test_metadata *_metadata,
				   struct vfio_set *set)
{
	int i;

	for (i = 0; i < set->nr; i++)
		if (vfio_file_info[set->id[i]].group)
			assert_group_reusable(_metadata, set->id[i]);
}

/*
 * Every case gets a fresh bare VM (no vCPUs, no memory).  The statistics fd
 * is opened right away: it is cached by the library, and opening it lazily
 * in the middle of a case could recycle a fd number the case expects to be
 * closed.
 */
FIXTURE(kvm_vfio) {
	struct kvm_vm *vm;
	int bridge;
};

FIXTURE_SETUP(kvm_vfio)
{
	struct kvm_create_device cd = {
		.type = KVM_DEV_TYPE_VFIO,
		.flags = KVM_CREATE_DEVICE_TEST,
	};
	int kvm_fd;

	self->bridge = -1;
	self->vm = NULL;

	/* Report a missing /dev/kvm as a clean per-case SKIP. */
	kvm_fd = open(KVM_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		SKIP(return, "cannot open " KVM_DEV_PATH ": %s", strerror(errno));
	close(kvm_fd);

	self->vm = vm_create_barebones();

	if (__vm_ioctl(self->vm, KVM_CREATE_DEVICE, &cd))
		SKIP(return, "no KVM_DEV_TYPE_VFIO support: %s", strerror(errno));

	ASSERT_VFIO_STATS(self->vm, 0, 0);
}

FIXTURE_TEARDOWN(kvm_vfio)
{
	close_fd(&self->bridge);
	if (self->vm)
		kvm_vm_free(self->vm);
	self->vm = NULL;
}

static int open_bridge(struct kvm_vm *vm)
{
	return kvm_create_device(vm, KVM_DEV_TYPE_VFIO);
}

/*
 * Verify that KVM_CREATE_DEVICE with KVM_CREATE_DEVICE_TEST reports success
 * for the VFIO type without creating anything: the fd field is left alone
 * and a real creation afterwards still works.
 */
TEST_F_TIMEOUT(kvm_vfio, create_test_flag, CASE_TIMEOUT)
{
	struct kvm_create_device cd;
	int i;

	for (i = 0; i < 2; i++) {
		memset(&cd, 0, sizeof(cd));
		cd.type = KVM_DEV_TYPE_VFIO;
		cd.flags = KVM_CREATE_DEVICE_TEST;
		cd.fd = -42;
		ASSERT_OK(__vm_ioctl(self->vm, KVM_CREATE_DEVICE, &cd));
		ASSERT_EQ(-42, (int)cd.fd);
		ASSERT_EQ(KVM_DEV_TYPE_VFIO, cd.type);
		ASSERT_EQ(KVM_CREATE_DEVICE_TEST, cd.flags);
	}

	/* Nothing was created, so this is the VM's first and only bridge. */
	self->bridge = __kvm_create_device(self->vm, KVM_DEV_TYPE_VFIO);
	ASSERT_LE(0, self->bridge);
	ASSERT_FAILS(EBUSY, __kvm_create_device(self->vm, KVM_DEV_TYPE_VFIO));
	ASSERT_VFIO_STATS(self->vm, 0, 0);
}

/*
 * Verify that a VM can only have one VFIO bridge at a time: further
 * creations fail with EBUSY while the first fd is open, and another VM is
 * not affected.
 */
TEST_F_TIMEOUT(kvm_vfio, create_busy, CASE_TIMEOUT)
{
	struct kvm_vm *other;
	int fd;

	self->bridge = open_bridge(self->vm);
	ASSERT_FAILS(EBUSY, __kvm_create_device(self->vm, KVM_DEV_TYPE_VFIO));
	ASSERT_FAILS(EBUSY, __kvm_create_device(self->vm, KVM_DEV_TYPE_VFIO));

	other = vm_create_barebones();
	fd = __kvm_create_device(other, KVM_DEV_TYPE_VFIO);
	ASSERT_LE(0, fd);
	close(fd);
	kvm_vm_free(other);

	/* Still busy: the other VM's bridge was its own. */
	ASSERT_FAILS(EBUSY, __kvm_create_device(self->vm, KVM_DEV_TYPE_VFIO));

	close_fd(&self->bridge);
	fd = __kvm_create_device(self->vm, KVM_DEV_TYPE_VFIO);
	ASSERT_LE(0, fd);
	self->bridge = fd;
}

/*
 * Verify that closing the bridge fd really destroys the bridge, so that a
 * new one can be created, over and over.
 */
TEST_F_TIMEOUT(kvm_vfio, create_after_close, CASE_TIMEOUT)
{
	int i, fd, err;

	for (i = 0; i < 32; i++) {
		fd = __kvm_create_device(self->vm, KVM_DEV_TYPE_VFIO);
		err = errno;
		ASSERT_LE(0, fd) TH_LOG("iteration %d: %s", i, strerror(err));
		if (!(i % 4)) {
			ASSERT_FAILS(EBUSY, __kvm_create_device(self->vm,
							       KVM_DEV_TYPE_VFIO));
			ASSERT_OK(__kvm_has_device_attr(fd, VFIO_FILE, FILE_ADD));
		}
		ASSERT_OK(close(fd));
	}

	self->bridge = open_bridge(self->vm);
	ASSERT_OK(__kvm_has_device_attr(self->bridge, VFIO_FILE, FILE_DEL));
	ASSERT_VFIO_STATS(self->vm, 0, 0);
}

static const uint32_t probe_groups[] = {
	0, 1, 2, 3, 0x80000000u, 0xffffffffu,
};

static const uint64_t probe_attrs[] = {
	0, 1, 2, 3, 4, (1ull << 32) | 1, ~0ull,
};

/*
 * Verify that KVM_HAS_DEVICE_ATTR advertises exactly group KVM_DEV_VFIO_FILE
 * with attributes KVM_DEV_VFIO_FILE_ADD and KVM_DEV_VFIO_FILE_DEL, and
 * reports ENXIO for every other group/attribute pair (including the SPAPR
 * TCE attribute, which x86 does not have).
 */
TEST_F_TIMEOUT(kvm_vfio, has_attr_grid, CASE_TIMEOUT)
{
	unsigned int g, a;

	self->bridge = open_bridge(self->vm);

	for (g = 0; g < ARRAY_SIZE(probe_groups); g++) {
		for (a = 0; a < ARRAY_SIZE(probe_attrs); a++) {
			uint32_t group = probe_groups[g];
			uint64_t attr = probe_attrs[a];
			int ret = __kvm_has_device_attr(self->bridge, group, attr);
			int err = errno;

			if (group == VFIO_FILE &&
			    (attr == FILE_ADD || attr == FILE_DEL)) {
				ASSERT_EQ(0, ret)
					TH_LOG("group %u attr 0x%llx: %s", group,
					       (unsigned long long)attr,
					       strerror(err));
			} else {
				ASSERT_EQ(-1, ret)
					TH_LOG("group %u attr 0x%llx advertised",
					       group, (unsigned long long)attr);
				ASSERT_EQ(ENXIO, err)
					TH_LOG("group %u attr 0x%llx: %s", group,
					       (unsigned long long)attr,
					       strerror(err));
			}
		}
	}
}

/*
 * Verify that KVM_GET_DEVICE_ATTR is not supported by the bridge: EPERM for
 * any group/attribute pair, whatever the buffer.
 */
TEST_F_TIMEOUT(kvm_vfio, get_attr_eperm, CASE_TIMEOUT)
{
	uint64_t buf[2] = { 0x1234, 0x5678 };
	uint32_t group;
	uint64_t attr;

	self->bridge = open_bridge(self->vm);

	for (group = 0; group <= 3; group++) {
		for (attr = 0; attr <= 4; attr++) {
			ASSERT_FAILS(EPERM, __kvm_device_attr_get(self->bridge,
								  group, attr,
								  buf));
			ASSERT_EQ(0x1234, buf[0]);
			ASSERT_EQ(0x5678, buf[1]);
		}
	}
	ASSERT_FAILS(EPERM, __kvm_device_attr_get(self->bridge, VFIO_FILE,
						  FILE_ADD, NULL));
	ASSERT_FAILS(EPERM, __kvm_device_attr_get(self->bridge, 0xffffffffu,
						  ~0ull, NULL));
	ASSERT_VFIO_STATS(self->vm, 0, 0);
}

/*
 * Verify that KVM_SET_DEVICE_ATTR rejects unknown groups, and unknown
 * attributes of group KVM_DEV_VFIO_FILE (including the SPAPR TCE one), with
 * ENXIO, before even looking at the fd the attribute points to.
 */
TEST_F_TIMEOUT(kvm_vfio, set_attr_unknown_group_or_attr, CASE_TIMEOUT)
{
	static const uint64_t bad_attrs[] = {
		0, FILE_SPAPR_TCE, 4, (1ull << 32) | FILE_ADD,
		(1ull << 32) | FILE_DEL, ~0ull,
	};
	unsigned int i;
	int32_t nullfd;

	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, nullfd);
	self->bridge = open_bridge(self->vm);

	for (i = 0; i < ARRAY_SIZE(probe_groups); i++) {
		uint32_t group = probe_groups[i];

		if (group == VFIO_FILE)
			continue;
		ASSERT_FAILS(ENXIO, __kvm_device_attr_set(self->bridge, group,
							  FILE_ADD, &nullfd));
		ASSERT_FAILS(ENXIO, __kvm_device_attr_set(self->bridge, group,
							  FILE_DEL, &nullfd));
		ASSERT_FAILS(ENXIO, __kvm_device_attr_set(self->bridge, group,
							  FILE_ADD, NULL));
	}

	for (i = 0; i < ARRAY_SIZE(bad_attrs); i++) {
		ASSERT_FAILS(ENXIO, __kvm_device_attr_set(self->bridge, VFIO_FILE,
							  bad_attrs[i], &nullfd));
		ASSERT_FAILS(ENXIO, __kvm_device_attr_set(self->bridge, VFIO_FILE,
							  bad_attrs[i], NULL));
	}

	ASSERT_VFIO_STATS(self->vm, 0, 0);
	close(nullfd);
}

/*
 * Verify that ADD and DEL fail with EFAULT when the int32_t fd they point to
 * cannot be read: NULL, the kernel half of the address space, an
 * inaccessible page, and an int32_t straddling into an inaccessible page.
 */
TEST_F_TIMEOUT(kvm_vfio, efault, CASE_TIMEOUT)
{
	long page = getpagesize();
	char *map, *bad[5];
	unsigned int i;

	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_OK(mprotect(map + page, page, PROT_NONE));

	bad[0] = NULL;
	bad[1] = (char *)-1l;
	bad[2] = (char *)0xffffffff81000000ul;
	bad[3] = map + page;
	bad[4] = map + page - 2;

	self->bridge = open_bridge(self->vm);

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ASSERT_FAILS_CTX(EFAULT, __kvm_device_attr_set(self->bridge,
							       VFIO_FILE, FILE_ADD,
							       bad[i]),
				 "(addr %p)", bad[i]);
		ASSERT_FAILS_CTX(EFAULT, __kvm_device_attr_set(self->bridge,
							       VFIO_FILE, FILE_DEL,
							       bad[i]),
				 "(addr %p)", bad[i]);
		ASSERT_VFIO_STATS(self->vm, 0, 0);
	}

	munmap(map, 2 * page);
}

/*
 * Verify that the ADD/DEL argument is a 32-bit fd: an int32_t ending right
 * before an inaccessible page is read fine, and only the low 32 bits of a
 * 64-bit value are used (x86 is little-endian).  A non-VFIO fd gives EINVAL
 * on ADD, proving the fd was read; with a real group, ADD/DEL succeed.
 */
TEST_F_TIMEOUT(kvm_vfio, addr_is_int32, CASE_TIMEOUT)
{
	enum vfio_file_id id = first_group();
	long page = getpagesize();
	int32_t *edge;
	uint64_t wide;
	int nullfd;
	char *map;

	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_OK(mprotect(map + page, page, PROT_NONE));
	edge = (int32_t *)(map + page - sizeof(int32_t));

	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, nullfd);
	self->bridge = open_bridge(self->vm);

	*edge = nullfd;
	ASSERT_FAILS(EINVAL, __kvm_device_attr_set(self->bridge, VFIO_FILE,
						   FILE_ADD, edge));
	ASSERT_FAILS(ENOENT, __kvm_device_attr_set(self->bridge, VFIO_FILE,
						   FILE_DEL, edge));

	wide = 0xdeadbeef00000000ull | (uint32_t)nullfd;
	ASSERT_FAILS(EINVAL, __kvm_device_attr_set(self->bridge, VFIO_FILE,
						   FILE_ADD, &wide));
	ASSERT_FAILS(ENOENT, __kvm_device_attr_set(self->bridge, VFIO_FILE,
						   FILE_DEL, &wide));
	ASSERT_VFIO_STATS(self->vm, 0, 0);

	if (id != NR_VFIO_FILE_IDS) {
		int nc = !vfio_file_info[id].coherent;
		int fd = open_vfio_file(_metadata, id);

		*edge = fd;
		ASSERT_OK(__kvm_device_attr_set(self->bridge, VFIO_FILE,
						FILE_ADD, edge));
		ASSERT_VFIO_STATS(self->vm, 1, nc);
		wide = 0xffffffff00000000ull | (uint32_t)fd;
		ASSERT_FAILS(EEXIST, __kvm_device_attr_set(self->bridge, VFIO_FILE,
							   FILE_ADD, &wide));
		ASSERT_OK(__kvm_device_attr_set(self->bridge, VFIO_FILE,
						FILE_DEL, &wide));
		ASSERT_VFIO_STATS(self->vm, 0, 0);
		close(fd);
	} else {
		TH_LOG("none of " ALL_GROUP_VARS " set, real-file part not run");
	}

	close(nullfd);
	munmap(map, 2 * page);
}

/*
 * Verify that ADD and DEL fail with EBADF for fd numbers that do not refer
 * to an open file: negative, huge, just closed, and O_PATH descriptors.
 */
TEST_F_TIMEOUT(kvm_vfio, ebadf, CASE_TIMEOUT)
{
	int32_t bad[5];
	unsigned int i;
	int fd;

	/* Allocate every other fd first, so that nothing reuses bad[3]. */
	self->bridge = open_bridge(self->vm);
	bad[4] = open("/dev/null", O_PATH | O_CLOEXEC);
	ASSERT_LE(0, bad[4]);

	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	close(fd);

	bad[0] = -1;
	bad[1] = INT32_MAX;
	bad[2] = 1 << 20;	/* the default fs.nr_open */
	bad[3] = fd;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ASSERT_FAILS_CTX(EBADF, bridge_add(self->bridge, bad[i]),
				 "(fd %d)", bad[i]);
		ASSERT_FAILS_CTX(EBADF, bridge_del(self->bridge, bad[i]),
				 "(fd %d)", bad[i]);
		ASSERT_VFIO_STATS(self->vm, 0, 0);
	}

	close(bad[4]);
}

/*
 * Verify that ADD refuses open files that are neither VFIO groups nor VFIO
 * device cdevs with EINVAL: /dev/null, an eventfd, the VM fd, /dev/kvm, the
 * bridge's own fd, and (when present) a VFIO container.
 */
TEST_F_TIMEOUT(kvm_vfio, einval_non_vfio, CASE_TIMEOUT)
{
	int fds[6], nr = 0, i;

	fds[nr] = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fds[nr++]);
	fds[nr] = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, fds[nr++]);
	fds[nr] = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fds[nr++]);
	fds[nr] = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (fds[nr] >= 0)
		nr++;
	else
		TH_LOG("no /dev/vfio/vfio, container case not run");

	self->bridge = open_bridge(self->vm);
	fds[nr++] = self->vm->fd;
	fds[nr++] = self->bridge;

	for (i = 0; i < nr; i++) {
		ASSERT_FAILS_CTX(EINVAL, bridge_add(self->bridge, fds[i]),
				 "(file #%d)", i);
		ASSERT_VFIO_STATS(self->vm, 0, 0);
	}

	/* The VM and bridge fds are the last two: not ours to close here. */
	for (i = 0; i < nr - 2; i++)
		close(fds[i]);
}

/*
 * Verify that DEL of an open file the bridge does not hold fails with
 * ENOENT: non-VFIO files, real VFIO files never added, and files already
 * deleted.
 */
TEST_F_TIMEOUT(kvm_vfio, enoent, CASE_TIMEOUT)
{
	struct vfio_set set;
	int nullfd, efd, i;

	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, nullfd);
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	self->bridge = open_bridge(self->vm);

	ASSERT_FAILS(ENOENT, bridge_del(self->bridge, nullfd));
	ASSERT_FAILS(ENOENT, bridge_del(self->bridge, efd));
	ASSERT_FAILS(ENOENT, bridge_del(self->bridge, self->vm->fd));
	ASSERT_FAILS(ENOENT, bridge_del(self->bridge, self->bridge));
	ASSERT_VFIO_STATS(self->vm, 0, 0);

	open_vfio_set(_metadata, &set, true, true);
	if (!set.nr)
		TH_LOG("no VFIO file configured, real-file part not run");
	for (i = 0; i < set.nr; i++) {
		int nc = !vfio_file_info[set.id[i]].coherent;

		ASSERT_FAILS(ENOENT, bridge_del(self->bridge, set.fd[i]));
		ASSERT_VFIO_STATS(self->vm, 0, 0);
		ASSERT_OK(bridge_add(self->bridge, set.fd[i]));
		ASSERT_VFIO_STATS(self->vm, 1, nc);
		/* A non-VFIO file still isn't there, with a real one held. */
		ASSERT_FAILS(ENOENT, bridge_del(self->bridge, nullfd));
		ASSERT_VFIO_STATS(self->vm, 1, nc);
		ASSERT_OK(bridge_del(self->bridge, set.fd[i]));
		ASSERT_VFIO_STATS(self->vm, 0, 0);
		ASSERT_FAILS(ENOENT, bridge_del(self->bridge, set.fd[i]));
		ASSERT_VFIO_STATS(self->vm, 0, 0);
	}
	close_vfio_set(&set);

	close(efd);
	close(nullfd);
}

/*
 * Verify that adding a file the bridge already holds fails with EEXIST,
 * whether through the same fd or a dup() of it, without touching the
 * statistics; and that DEL through either fd removes the one file.
 */
TEST_F_TIMEOUT(kvm_vfio, eexist, CASE_TIMEOUT)
{
	enum vfio_file_id id;
	int fd, dupfd, nc;

	if (!have_any_group())
		SKIP(return, "none of " ALL_GROUP_VARS " is set");
	id = first_group();
	nc = !vfio_file_info[id].coherent;

	fd = open_vfio_file(_metadata, id);
	dupfd = dup(fd);
	ASSERT_LE(0, dupfd);
	self->bridge = open_bridge(self->vm);

	ASSERT_OK(bridge_add(self->bridge, fd));
	ASSERT_VFIO_STATS(self->vm, 1, nc);
	ASSERT_FAILS(EEXIST, bridge_add(self->bridge, fd));
	ASSERT_VFIO_STATS(self->vm, 1, nc);
	ASSERT_FAILS(EEXIST, bridge_add(self->bridge, dupfd));
	ASSERT_VFIO_STATS(self->vm, 1, nc);

	/* One file, whichever fd names it. */
	ASSERT_OK(bridge_del(self->bridge, dupfd));
	ASSERT_VFIO_STATS(self->vm, 0, 0);
	ASSERT_FAILS(ENOENT, bridge_del(self->bridge, fd));
	ASSERT_VFIO_STATS(self->vm, 0, 0);

	ASSERT_OK(bridge_add(self->bridge, dupfd));
	ASSERT_VFIO_STATS(self->vm, 1, nc);
	ASSERT_FAILS(EEXIST, bridge_add(self->bridge, fd));
	ASSERT_VFIO_STATS(self->vm, 1, nc);
	ASSERT_OK(bridge_del(self->bridge, fd));
	ASSERT_VFIO_STATS(self->vm, 0, 0);

	close(dupfd);
	close(fd);
}

/*
 * Verify that two open()s of one VFIO device cdev are two distinct files to
 * the bridge: both ADDs succeed and count, each is deleted on its own, and
 * DEL through the other open fails with ENOENT.
 */
TEST_F_TIMEOUT(kvm_vfio, cdev_two_opens, CASE_TIMEOUT)
{
	enum vfio_file_id id;

	if (!have_any_device())
		SKIP(return, "none of " ALL_DEVICE_VARS " is set");
	self->bridge = open_bridge(self->vm);

	for (id = 0; id < NR_VFIO_FILE_IDS; id++) {
		int a, b, nc = !vfio_file_info[id].coherent;

		if (vfio_file_info[id].group || !vfio_file_path(id))
			continue;

		a = open_vfio_file(_metadata, id);
		b = open_vfio_file(_metadata, id);

		ASSERT_OK(bridge_add(self->bridge, a));
		ASSERT_VFIO_STATS(self->vm, 1, nc);
		ASSERT_FAILS(ENOENT, bridge_del(self->bridge, b));
		ASSERT_VFIO_STATS(self->vm, 1, nc);
		ASSERT_OK(bridge_add(self->bridge, b));
		ASSERT_VFIO_STATS(self->vm, 2, 2 * nc);
		ASSERT_FAILS(EEXIST, bridge_add(self->bridge, a));
		ASSERT_FAILS(EEXIST, bridge_add(self->bridge, b));
		ASSERT_VFIO_STATS(self->vm, 2, 2 * nc);

		ASSERT_OK(bridge_del(self->bridge, a));
		ASSERT_VFIO_STATS(self->vm, 1, nc);
		ASSERT_FAILS(ENOENT, bridge_del(self->bridge, a));
		ASSERT_VFIO_STATS(self->vm, 1, nc);
		ASSERT_OK(bridge_del(self->bridge, b));
		ASSERT_VFIO_STATS(self->vm, 0, 0);

		close(b);
		close(a);
	}
}

/*
 * ADD and DEL group @id three times, with a duplicate ADD and a stray DEL in
 * each round: the statistics must follow exactly, counting the group as
 * non-coherent only if it is.
 */
static void group_add_del_cycles(struct __test_metadata *_metadata,
				 struct kvm_vm *vm, int bridge,
				 enum vfio_file_id id)
{
	int nc = !vfio_file_info[id].coherent;
	int fd, i;

	fd = open_vfio_file(_metadata, id);
	for (i = 0; i < 3; i++) {
		ASSERT_OK(bridge_add(bridge, fd));
		ASSERT_VFIO_STATS(vm, 1, nc);
		ASSERT_FAILS(EEXIST, bridge_add(bridge, fd));
		ASSERT_VFIO_STATS(vm, 1, nc);
		ASSERT_OK(bridge_del(bridge, fd));
		ASSERT_VFIO_STATS(vm, 0, 0);
		ASSERT_FAILS(ENOENT, bridge_del(bridge, fd));
		ASSERT_VFIO_STATS(vm, 0, 0);
	}
	close(fd);
}

/* Verify that a coherent group counts as a file but not as non-coherent. */
TEST_F_TIMEOUT(kvm_vfio, coherent_group_add_del, CASE_TIMEOUT)
{
	const char *unset = unset_var(COHERENT_GROUP0);

	if (unset)
		SKIP(return, "%s is not set", unset);
	self->bridge = open_bridge(self->vm);
	group_add_del_cycles(_metadata, self->vm, self->bridge, COHERENT_GROUP0);
}

/* Verify that a non-coherent group is counted in both statistics. */
TEST_F_TIMEOUT(kvm_vfio, noncoherent_group_add_del, CASE_TIMEOUT)
{
	const char *unset = unset_var(NONCOHERENT_GROUP0);

	if (unset)
		SKIP(return, "%s is not set", unset);
	self->bridge = open_bridge(self->vm);
	group_add_del_cycles(_metadata, self->vm, self->bridge,
			     NONCOHERENT_GROUP0);
}

/*
 * Verify the counts with two non-coherent groups held at once, deleted in
 * both orders.
 */
TEST_F_TIMEOUT(kvm_vfio, noncoherent_two_groups, CASE_TIMEOUT)
{
	const char *unset;
	int nc0, nc1;

	unset = unset_var(NONCOHERENT_GROUP0) ?: unset_var(NONCOHERENT_GROUP1);
	if (unset)
		SKIP(return, "%s is not set", unset);
	nc0 = open_vfio_file(_metadata, NONCOHERENT_GROUP0);
	nc1 = open_vfio_file(_metadata, NONCOHERENT_GROUP1);
	self->bridge = open_bridge(self->vm);

	ASSERT_OK(bridge_add(self->bridge, nc0));
	ASSERT_VFIO_STATS(self->vm, 1, 1);
	ASSERT_OK(bridge_add(self->bridge, nc1));
	ASSERT_VFIO_STATS(self->vm, 2, 2);
	ASSERT_FAILS(EEXIST, bridge_add(self->bridge, nc0));
	ASSERT_VFIO_STATS(self->vm, 2, 2);
	ASSERT_OK(bridge_del(self->bridge, nc1));
	ASSERT_VFIO_STATS(self->vm, 1, 1);
	ASSERT_OK(bridge_del(self->bridge, nc0));
	ASSERT_VFIO_STATS(self->vm, 0, 0);

	ASSERT_OK(bridge_add(self->bridge, nc1));
	ASSERT_VFIO_STATS(self->vm, 1, 1);
	ASSERT_OK(bridge_add(self->bridge, nc0));
	ASSERT_VFIO_STATS(self->vm, 2, 2);
	ASSERT_OK(bridge_del(self->bridge, nc1));
	ASSERT_VFIO_STATS(self->vm, 1, 1);
	ASSERT_OK(bridge_del(self->bridge, nc0));
	ASSERT_VFIO_STATS(self->vm, 0, 0);

	close(nc1);
	close(nc0);
}

/*
 * Verify the counts while a coherent group and two non-coherent groups come
 * and go in mixed order; failed operations must not move them.
 */
TEST_F_TIMEOUT(kvm_vfio, mixed_groups_add_del, CASE_TIMEOUT)
{
	const char *unset;
	int coh, nc0, nc1;

	unset = unset_var(COHERENT_GROUP0) ?: unset_var(NONCOHERENT_GROUP0) ?:
		unset_var(NONCOHERENT_GROUP1);
	if (unset)
		SKIP(return, "%s is not set", unset);
	coh = open_vfio_file(_metadata, COHERENT_GROUP0);
	nc0 = open_vfio_file(_metadata, NONCOHERENT_GROUP0);
	nc1 = open_vfio_file(_metadata, NONCOHERENT_GROUP1);
	self->bridge = open_bridge(self->vm);

	ASSERT_OK(bridge_add(self->bridge, coh));
	ASSERT_VFIO_STATS(self->vm, 1, 0);
	ASSERT_OK(bridge_add(self->bridge, nc0));
	ASSERT_VFIO_STATS(self->vm, 2, 1);
	ASSERT_OK(bridge_add(self->bridge, nc1));
	ASSERT_VFIO_STATS(self->vm, 3, 2);
	ASSERT_FAILS(EEXIST, bridge_add(self->bridge, coh));
	ASSERT_FAILS(EEXIST, bridge_add(self->bridge, nc1));
	ASSERT_VFIO_STATS(self->vm, 3, 2);
	ASSERT_OK(bridge_del(self->bridge, nc0));
	ASSERT_VFIO_STATS(self->vm, 2, 1);
	ASSERT_FAILS(ENOENT, bridge_del(self->bridge, nc0));
	ASSERT_VFIO_STATS(self->vm, 2, 1);
	ASSERT_OK(bridge_del(self->bridge, nc1));
	ASSERT_VFIO_STATS(self->vm, 1, 0);
	ASSERT_OK(bridge_del(self->bridge, coh));
	ASSERT_VFIO_STATS(self->vm, 0, 0);

	/* Non-coherent first, and the coherent group leaving in the middle. */
	ASSERT_OK(bridge_add(self->bridge, nc0));
	ASSERT_VFIO_STATS(self->vm, 1, 1);
	ASSERT_OK(bridge_add(self->bridge, coh));
	ASSERT_VFIO_STATS(self->vm, 2, 1);
	ASSERT_OK(bridge_del(self->bridge, nc0));
	ASSERT_VFIO_STATS(self->vm, 1, 0);
	ASSERT_OK(bridge_add(self->bridge, nc1));
	ASSERT_VFIO_STATS(self->vm, 2, 1);
	ASSERT_OK(bridge_add(self->bridge, nc0));
	ASSERT_VFIO_STATS(self->vm, 3, 2);
	ASSERT_OK(bridge_del(self->bridge, coh));
	ASSERT_VFIO_STATS(self->vm, 2, 2);
	ASSERT_OK(bridge_del(self->bridge, nc1));
	ASSERT_VFIO_STATS(self->vm, 1, 1);
	ASSERT_OK(bridge_del(self->bridge, nc0));
	ASSERT_VFIO_STATS(self->vm, 0, 0);

	close(nc1);
	close(nc0);
	close(coh);
}

/*
 * Verify that VFIO device cdevs are accepted and classified like groups:
 * coherent and non-coherent cdevs alone and together, and a cdev next to
 * the group of the same device (two different files).
 */
TEST_F_TIMEOUT(kvm_vfio, cdev_add_del, CASE_TIMEOUT)
{
	struct vfio_set devs;
	int i, grp, files, nc;

	if (!have_any_device())
		SKIP(return, "none of " ALL_DEVICE_VARS " is set");
	open_vfio_set(_metadata, &devs, false, true);
	self->bridge = open_bridge(self->vm);

	/* One at a time. */
	for (i = 0; i < devs.nr; i++) {
		int nc = !vfio_file_info[devs.id[i]].coherent;

		ASSERT_OK(bridge_add(self->bridge, devs.fd[i]));
		ASSERT_VFIO_STATS(self->vm, 1, nc);
		ASSERT_FAILS(EEXIST, bridge_add(self->bridge, devs.fd[i]));
		ASSERT_VFIO_STATS(self->vm, 1, nc);
		ASSERT_OK(bridge_del(self->bridge, devs.fd[i]));
		ASSERT_VFIO_STATS(self->vm, 0, 0);
	}

	/* All together, then removed oldest first. */
	add_vfio_set(_metadata, self->vm, self->bridge, &devs);
	files = devs.nr;
	nc = 0;
	for (i = 0; i < devs.nr; i++)
		nc += !vfio_file_info[devs.id[i]].coherent;
	for (i = 0; i < devs.nr; i++) {
		ASSERT_OK(bridge_del(self->bridge, devs.fd[i]));
		files--;
		nc -= !vfio_file_info[devs.id[i]].coherent;
		ASSERT_VFIO_STATS(self->vm, files, nc);
	}

	/* The coherent device through both its group and its cdev. */
	if (vfio_file_path(COHERENT_GROUP0) && vfio_file_path(COHERENT_DEVICE0)) {
		for (i = 0; i < devs.nr; i++)
			if (devs.id[i] == COHERENT_DEVICE0)
				break;
		grp = open_vfio_file(_metadata, COHERENT_GROUP0);
		ASSERT_OK(bridge_add(self->bridge, grp));
		ASSERT_VFIO_STATS(self->vm, 1, 0);
		ASSERT_OK(bridge_add(self->bridge, devs.fd[i]));
		ASSERT_VFIO_STATS(self->vm, 2, 0);
		ASSERT_OK(bridge_del(self->bridge, grp));
		ASSERT_VFIO_STATS(self->vm, 1, 0);
		ASSERT_OK(bridge_del(self->bridge, devs.fd[i]));
		ASSERT_VFIO_STATS(self->vm, 0, 0);
		close(grp);
	}

	close_vfio_set(&devs);
}

/*
 * Verify that the bridge keeps its own reference to an added group: once
 * the group fd is closed, DEL through the stale number fails with EBADF,
 * the file still counts and the group stays busy; closing the bridge then
 * drops it (statistics back to zero) and the group can be reopened and used.
 */
TEST_F_TIMEOUT(kvm_vfio, del_after_vfio_fd_closed, CASE_TIMEOUT)
{
	enum vfio_file_id id;
	int fd, nc, err;

	if (!have_any_group())
		SKIP(return, "none of " ALL_GROUP_VARS " is set");
	id = first_group();
	nc = !vfio_file_info[id].coherent;

	fd = open_vfio_file(_metadata, id);
	self->bridge = open_bridge(self->vm);
	ASSERT_OK(bridge_add(self->bridge, fd));
	ASSERT_VFIO_STATS(self->vm, 1, nc);

	ASSERT_OK(close(fd));
	ASSERT_FAILS(EBADF, bridge_del(self->bridge, fd));
	ASSERT_VFIO_STATS(self->vm, 1, nc);

	/* KVM still holds the group file, and a group opens only once. */
	fd = open(vfio_file_path(id), O_RDWR | O_CLOEXEC);
	err = errno;
	ASSERT_EQ(-1, fd) {
		close(fd);
		TH_LOG("%s reopened while the bridge should hold it",
		       vfio_file_info[id].env);
	}
	ASSERT_EQ(EBUSY, err) TH_LOG("reopen: %s", strerror(err));

	close_fd(&self->bridge);
	ASSERT_VFIO_STATS(self->vm, 0, 0);

	assert_group_reusable(_metadata, id);
}

/*
 * Closing the bridge with files still added must release all of them, both
 * when userspace already closed its VFIO fds and when it still holds them.
 */
static void close_bridge_with_files(struct __test_metadata *_metadata,
				    struct kvm_vm *vm, int *bridge,
				    bool vfio_fds_first)
{
	struct vfio_set set;

	open_vfio_set(_metadata, &set, true, true);
	*bridge = open_bridge(vm);
	add_vfio_set(_metadata, vm, *bridge, &set);

	if (vfio_fds_first)
		close_vfio_set(&set);

	close_fd(bridge);
	ASSERT_VFIO_STATS(vm, 0, 0);

	if (!vfio_fds_first)
		close_vfio_set(&set);

	assert_groups_reusable(_metadata, &set);

	/* And the VM can get a new, empty bridge. */
	*bridge = open_bridge(vm);
	ASSERT_VFIO_STATS(vm, 0, 0);
}

/*
 * Verify that closing the bridge fd releases every held group and cdev when
 * the VFIO fds were closed first: statistics drop to zero and each group
 * can be reopened and attached to a new container.
 */
TEST_F_TIMEOUT(kvm_vfio, close_bridge_with_files_vfio_fds_first, CASE_TIMEOUT)
{
	if (!have_any_group())
		SKIP(return, "none of " ALL_GROUP_VARS " is set");
	close_bridge_with_files(_metadata, self->vm, &self->bridge, true);
}

/*
 * Verify the same when the bridge fd is closed while the VFIO fds are still
 * open, and they are closed only afterwards.
 */
TEST_F_TIMEOUT(kvm_vfio, close_bridge_with_files_bridge_first, CASE_TIMEOUT)
{
	if (!have_any_group())
		SKIP(return, "none of " ALL_GROUP_VARS " is set");
	close_bridge_with_files(_metadata, self->vm, &self->bridge, false);
}

/*
 * Verify that the bridge fd keeps the VM alive and usable: after the VM fd
 * is closed (kvm_vm_free()) with files added, DEL and ADD still work on the
 * bridge, and closing the bridge fd last tears everything down, so the
 * groups can be reopened.
 */
TEST_F_TIMEOUT(kvm_vfio, vm_destroy_with_files_vm_first, CASE_TIMEOUT)
{
	struct vfio_set set;
	int first;

	if (!have_any_group())
		SKIP(return, "none of " ALL_GROUP_VARS " is set");
	open_vfio_set(_metadata, &set, true, true);
	self->bridge = open_bridge(self->vm);
	add_vfio_set(_metadata, self->vm, self->bridge, &set);

	kvm_vm_free(self->vm);
	self->vm = NULL;

	first = set.fd[0];
	ASSERT_OK(__kvm_has_device_attr(self->bridge, VFIO_FILE, FILE_ADD));
	ASSERT_FAILS(EEXIST, bridge_add(self->bridge, first));
	ASSERT_OK(bridge_del(self->bridge, first));
	ASSERT_FAILS(ENOENT, bridge_del(self->bridge, first));
	ASSERT_OK(bridge_add(self->bridge, first));

	/* The bridge now holds the only references to the VFIO files. */
	close_vfio_set(&set);
	close_fd(&self->bridge);

	assert_groups_reusable(_metadata, &set);
}

/*
 * Verify the usual teardown order with files added: bridge fd closed
 * (statistics back to zero), then the VM freed, then the VFIO fds closed;
 * the groups can be reopened afterwards.
 */
TEST_F_TIMEOUT(kvm_vfio, vm_destroy_with_files_bridge_first, CASE_TIMEOUT)
{
	struct vfio_set set;

	if (!have_any_group())
		SKIP(return, "none of " ALL_GROUP_VARS " is set");
	open_vfio_set(_metadata, &set, true, true);
	self->bridge = open_bridge(self->vm);
	add_vfio_set(_metadata, self->vm, self->bridge, &set);

	close_fd(&self->bridge);
	ASSERT_VFIO_STATS(self->vm, 0, 0);
	kvm_vm_free(self->vm);
	self->vm = NULL;

	close_vfio_set(&set);
	assert_groups_reusable(_metadata, &set);
}

#define RACE_THREADS		4
#define RACE_ITERATIONS		200
#define RACE_MAX_WAIT_MS	5000

struct race_ctx {
	int bridge;
	int nr_fds;
	int fds[NR_VFIO_FILE_IDS + 1];
	int bridge_closed;
	int ops;
	/* First unexpected result: errno, or -(return value) if not -1. */
	int bad_result;
	int bad_fd;
	uint64_t bad_op;
};

struct race_worker {
	pthread_t thread;
	struct race_ctx *ctx;
	unsigned int seed;
};

static void *race_worker_fn(void *data)
{
	struct race_worker *w = data;
	struct race_ctx *ctx = w->ctx;
	int i;

	for (i = 0; i < RACE_ITERATIONS; i++) {
		unsigned int r = rand_r(&w->seed);
		int fd = ctx->fds[r % ctx->nr_fds];
		uint64_t op = (r >> 16) & 1 ? FILE_ADD : FILE_DEL;
		int ret, res;

		ret = bridge_file_op(ctx->bridge, op, fd);
		res = ret == -1 ? errno : -ret;
		__atomic_add_fetch(&ctx->ops, 1, __ATOMIC_SEQ_CST);

		if (!ret || res == EEXIST || res == ENOENT)
			continue;
		/* The closed flag is set before close(), so this is ordered. */
		if ((res == EBADF || res == EIO) &&
		    __atomic_load_n(&ctx->bridge_closed, __ATOMIC_SEQ_CST))
			continue;
		if (__sync_bool_compare_and_swap(&ctx->bad_result, 0, res)) {
			ctx->bad_fd = fd;
			ctx->bad_op = op;
		}
	}
	return NULL;
}

static void race_run(struct __test_metadata *_metadata, struct race_ctx *ctx,
		     int *bridge, bool close_midway)
{
	struct race_worker workers[RACE_THREADS];
	int i, waited;

	ctx->bridge = *bridge;
	ctx->ops = 0;
	ctx->bridge_closed = 0;

	for (i = 0; i < RACE_THREADS; i++) {
		workers[i].ctx = ctx;
		workers[i].seed = 0x5eed + i * 7919 + close_midway;
		ASSERT_EQ(0, pthread_create(&workers[i].thread, NULL,
					    race_worker_fn, &workers[i]));
	}

	if (close_midway) {
		/* Let the workers get going, then pull the bridge away. */
		for (waited = 0; waited < RACE_MAX_WAIT_MS; waited++) {
			if (__atomic_load_n(&ctx->ops, __ATOMIC_SEQ_CST) >=
			    RACE_THREADS * RACE_ITERATIONS / 2)
				break;
			usleep(1000);
		}
		__atomic_store_n(&ctx->bridge_closed, 1, __ATOMIC_SEQ_CST);
		close_fd(bridge);
	}

	for (i = 0; i < RACE_THREADS; i++)
		ASSERT_EQ(0, pthread_join(workers[i].thread, NULL));

	ASSERT_EQ(0, ctx->bad_result)
		TH_LOG("unexpected result %d (%s) for %s of fd %d",
		       ctx->bad_result,
		       ctx->bad_result > 0 ? strerror(ctx->bad_result) : "?",
		       ctx->bad_op == FILE_ADD ? "ADD" : "DEL", ctx->bad_fd);
}

/*
 * Verify that concurrent ADD/DEL of the same files (through their fds and a
 * dup()) only ever succeed or fail with EEXIST/ENOENT, that the statistics
 * match what the bridge really holds afterwards, and that closing the bridge
 * while the threads are still at it (they may then see EBADF or EIO) leaves
 * nothing behind: statistics at zero and all groups reusable.
 */
TEST_F_TIMEOUT(kvm_vfio, concurrent_add_del_close, CASE_TIMEOUT)
{
	struct race_ctx ctx = { 0 };
	struct vfio_set set;
	int i, dupfd, files, nc;

	if (!have_any_group())
		SKIP(return, "none of " ALL_GROUP_VARS " is set");
	open_vfio_set(_metadata, &set, true, true);
	dupfd = dup(set.fd[0]);
	ASSERT_LE(0, dupfd);

	for (i = 0; i < set.nr; i++)
		ctx.fds[ctx.nr_fds++] = set.fd[i];
	ctx.fds[ctx.nr_fds++] = dupfd;

	/* Round 1: race to completion, then audit the bridge's contents. */
	self->bridge = open_bridge(self->vm);
	race_run(_metadata, &ctx, &self->bridge, false);

	files = read_vm_stat(self->vm, STAT_FILES);
	nc = read_vm_stat(self->vm, STAT_NONCOHERENT);
	for (i = 0; i < set.nr; i++) {
		int ret = bridge_del(self->bridge, set.fd[i]);
		int err = errno;

		if (ret) {
			ASSERT_EQ(ENOENT, err) TH_LOG("DEL: %s", strerror(err));
			continue;
		}
		files--;
		nc -= !vfio_file_info[set.id[i]].coherent;
	}
	ASSERT_EQ(0, files) TH_LOG("vfio_files disagrees with the file list");
	ASSERT_EQ(0, nc) TH_LOG("vfio_noncoherent_files disagrees with the file list");
	ASSERT_VFIO_STATS(self->vm, 0, 0);

	/* Round 2: the bridge fd is closed under the threads' feet. */
	race_run(_metadata, &ctx, &self->bridge, true);
	ASSERT_VFIO_STATS(self->vm, 0, 0);

	close(dupfd);
	close_vfio_set(&set);
	assert_groups_reusable(_metadata, &set);
}

/*
 * Fault injection: with CONFIG_FAILSLAB and CONFIG_FAULT_INJECTION_DEBUG_FS,
 * writing n to /proc/thread-self/fail-nth makes the n-th slab allocation of
 * this thread fail; reading it back gives 0 once that has happened.  Sweeping
 * n from 1 until a call succeeds with nothing injected walks every
 * allocation failure the call can meet.
 */
#define FAILSLAB_DIR	"/sys/kernel/debug/failslab/"
#define FAIL_NTH_MAX	64
#define FAIL_NTH	"/proc/thread-self/fail-nth"

struct fail_nth {
	int fd;		/* arms and disarms */
	int rfd;	/* reads back; opened before arming */
	char old_ignore[8], old_verbose[8];
};

/*
 * Write @val to @path, saving its old contents in @old; errno on failure.
 * debugfs and proc files here cannot seek: one open to read, one to write.
 */
static int rw_str(const char *path, char *old, size_t len, const char *val)
{
	ssize_t n;
	int fd, err = 0;

	if (old) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return errno;
		n = read(fd, old, len - 1);
		old[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	n = write(fd, val, strlen(val));
	if (n != (ssize_t)strlen(val))
		err = n < 0 ? errno : EIO;
	close(fd);
	return err;
}

/*
 * Let failslab fail GFP_KERNEL allocations, quietly.  Returns NULL, or
 * why fault injection is unavailable.
 */
static const char *fail_nth_setup(struct fail_nth *fn)
{
	static char why[128];
	int err;

	fn->fd = open(FAIL_NTH, O_WRONLY | O_CLOEXEC);
	if (fn->fd < 0) {
		snprintf(why, sizeof(why), "/proc/thread-self/fail-nth: %s",
			 strerror(errno));
		return why;
	}
	err = rw_str(FAILSLAB_DIR "ignore-gfp-wait", fn->old_ignore,
		     sizeof(fn->old_ignore), "N");
	if (!err)
		err = rw_str(FAILSLAB_DIR "verbose", fn->old_verbose,
			     sizeof(fn->old_verbose), "0");
	if (err) {
		snprintf(why, sizeof(why), FAILSLAB_DIR ": %s", strerror(err));
		return why;
	}
	return NULL;
}

static void fail_nth_restore(struct fail_nth *fn)
{
	if (fn->old_ignore[0])
		rw_str(FAILSLAB_DIR "ignore-gfp-wait", NULL, 0, fn->old_ignore);
	if (fn->old_verbose[0])
		rw_str(FAILSLAB_DIR "verbose", NULL, 0, fn->old_verbose);
	close_fd(&fn->fd);
}

/* Make the @nth slab allocation of this thread fail. */
static void fail_nth_arm(struct fail_nth *fn, int nth)
{
	char buf[16];

	/* Opened now: its own allocation must not count. */
	fn->rfd = open(FAIL_NTH, O_RDONLY | O_CLOEXEC);
	TEST_ASSERT(fn->rfd >= 0, "open " FAIL_NTH);
	snprintf(buf, sizeof(buf), "%d", nth);
	TEST_ASSERT(write(fn->fd, buf, strlen(buf)) > 0, "arm " FAIL_NTH);
}

/* Disarm; true if the armed failure was injected. */
static bool fail_nth_disarm(struct fail_nth *fn)
{
	char buf[16] = "";
	bool fired;

	TEST_ASSERT(read(fn->rfd, buf, sizeof(buf) - 1) > 0, "read " FAIL_NTH);
	fired = atoi(buf) == 0;
	TEST_ASSERT(write(fn->fd, "0", 1) == 1, "disarm " FAIL_NTH);
	close(fn->rfd);
	return fired;
}

#define NO_FAIL_NTH	"no fault injection (CONFIG_FAILSLAB, " \
			"CONFIG_FAULT_INJECTION_DEBUG_FS): "

/* fail_nth_setup(), undone if it fails: NULL, or why the case must skip. */
static const char *fail_nth_start(struct fail_nth *fn)
{
	const char *why = fail_nth_setup(fn);

	if (why)
		fail_nth_restore(fn);
	return why;
}

/*
 * Verify that KVM_CREATE_DEVICE(VFIO) failing at any of its allocations
 * returns ENOMEM and leaves no half-created bridge behind: the next create
 * succeeds rather than finding a stale device (EBUSY).
 */
TEST_F_TIMEOUT(kvm_vfio, fail_nth_create, CASE_TIMEOUT)
{
	struct fail_nth fn = { .fd = -1, .rfd = -1 };
	int nth, fd, err, failures = 0;
	const char *why;
	bool fired;

	why = fail_nth_start(&fn);
	if (why)
		SKIP(return, NO_FAIL_NTH "%s", why);

	for (nth = 1; nth <= FAIL_NTH_MAX; nth++) {
		fail_nth_arm(&fn, nth);
		fd = __kvm_create_device(self->vm, KVM_DEV_TYPE_VFIO);
		err = errno;
		fired = fail_nth_disarm(&fn);
		if (fd >= 0) {
			close(fd);
			if (!fired)
				break;
			continue;	/* a failure the kernel absorbed */
		}
		failures++;
		EXPECT_TRUE(fired) TH_LOG("create failed with nothing injected");
		EXPECT_EQ(ENOMEM, err) TH_LOG("nth %d: %s", nth, strerror(err));

		fd = __kvm_create_device(self->vm, KVM_DEV_TYPE_VFIO);
		EXPECT_LE(0, fd) TH_LOG("create after a failed create: %s",
					strerror(errno));
		close_fd(&fd);
	}
	fail_nth_restore(&fn);
	ASSERT_GE(FAIL_NTH_MAX, nth) TH_LOG("create never succeeded");
	ASSERT_LT(0, failures) TH_LOG("no allocation of create was failed");
	ksft_print_msg("create: %d injected failures, success at nth %d\n",
		       failures, nth);
	ASSERT_VFIO_STATS(self->vm, 0, 0);
}

/*
 * Verify that KVM_DEV_VFIO_FILE_ADD failing at any of its allocations
 * returns ENOMEM and changes nothing: the statistics stay at zero, the
 * file is not held (DEL gives ENOENT), and a later ADD works.
 */
TEST_F_TIMEOUT(kvm_vfio, fail_nth_add, CASE_TIMEOUT)
{
	struct fail_nth fn = { .fd = -1, .rfd = -1 };
	enum vfio_file_id id = first_group();
	int nth, ret, err, failures = 0, file;
	const char *why;
	bool fired;

	if (!have_any_group())
		SKIP(return, "none of " ALL_GROUP_VARS " is set");
	why = fail_nth_start(&fn);
	if (why)
		SKIP(return, NO_FAIL_NTH "%s", why);
	self->bridge = open_bridge(self->vm);
	file = open_vfio_file(_metadata, id);

	for (nth = 1; nth <= FAIL_NTH_MAX; nth++) {
		fail_nth_arm(&fn, nth);
		ret = bridge_add(self->bridge, file);
		err = errno;
		fired = fail_nth_disarm(&fn);
		if (!ret) {
			if (!fired)
				break;
			ASSERT_OK(bridge_del(self->bridge, file));
			continue;
		}
		failures++;
		EXPECT_TRUE(fired) TH_LOG("ADD failed with nothing injected");
		EXPECT_EQ(ENOMEM, err) TH_LOG("nth %d: %s", nth, strerror(err));
		ASSERT_VFIO_STATS(self->vm, 0, 0);
		ASSERT_FAILS(ENOENT, bridge_del(self->bridge, file));
	}
	fail_nth_restore(&fn);
	ASSERT_GE(FAIL_NTH_MAX, nth) TH_LOG("ADD never succeeded");
	ASSERT_LT(0, failures) TH_LOG("no allocation of ADD was failed");
	ksft_print_msg("ADD: %d injected failures, success at nth %d\n",
		       failures, nth);
	ASSERT_VFIO_STATS(self->vm, 1, !vfio_file_info[id].coherent);
	ASSERT_OK(bridge_del(self->bridge, file));
	ASSERT_VFIO_STATS(self->vm, 0, 0);
	close(file);
}

TEST_HARNESS_MAIN
