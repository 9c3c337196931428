// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the KVM-VFIO bridge's bookkeeping: how the coherency of
 * its files adds up to the VM's registration, the statistics, and what
 * delete and release undo.  Included at the end of vfio.c, so the tests
 * call its static functions; VFIO and the architecture are replaced by
 * static stubs that record what the bridge asked of them.  The files are
 * anonymous inodes standing for VFIO files.
 */
#include <kunit/test.h>
#include <kunit/static_stub.h>
#include <linux/anon_inodes.h>

#define KVM_VFIO_KUNIT_FILES	4

struct kvm_vfio_kunit {
	struct kvm *kvm;
	struct kvm_device dev;
	struct file *files[KVM_VFIO_KUNIT_FILES];
	bool coherent[KVM_VFIO_KUNIT_FILES];	/* what "VFIO" answers */
	struct kvm *set_kvm[KVM_VFIO_KUNIT_FILES]; /* what the bridge told it */
	int registered;				/* register - unregister */
	int edges;				/* calls to either */
	bool no_queries;			/* asking VFIO is a bug */
#ifdef CONFIG_SPAPR_TCE_IOMMU
	/* Files that are groups: "VFIO" hands out a reference on groups[i]. */
	bool is_group[KVM_VFIO_KUNIT_FILES];
	int groups[KVM_VFIO_KUNIT_FILES];	/* stand-ins, never read */
	int group_refs[KVM_VFIO_KUNIT_FILES];	/* get - put */
	int attached, released;			/* calls into the TCE code */
	int attach_ret;
#endif
};

static struct kvm_vfio_kunit *kvm_vfio_kunit_ctx(struct kunit *test)
{
	return test->priv;
}

static int kvm_vfio_kunit_index(struct kvm_vfio_kunit *ctx, struct file *file)
{
	int i;

	for (i = 0; i < KVM_VFIO_KUNIT_FILES; i++)
		if (ctx->files[i] == file)
			return i;
	return -1;
}

static bool kvm_vfio_kunit_coherent(struct file *file)
{
	struct kunit *test = kunit_get_current_test();
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);
	int i = kvm_vfio_kunit_index(ctx, file);

	KUNIT_ASSERT_GE(test, i, 0);
	KUNIT_EXPECT_FALSE_MSG(test, ctx->no_queries, "VFIO queried under kvm->lock");
	return ctx->coherent[i];
}

static void kvm_vfio_kunit_set_kvm(struct file *file, struct kvm *kvm)
{
	struct kunit *test = kunit_get_current_test();
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);
	int i = kvm_vfio_kunit_index(ctx, file);

	KUNIT_ASSERT_GE(test, i, 0);
	ctx->set_kvm[i] = kvm;
}

static void kvm_vfio_kunit_noncoherent(struct kvm *kvm, bool noncoherent)
{
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(kunit_get_current_test());

	ctx->registered += noncoherent ? 1 : -1;
	ctx->edges++;
}

#ifdef CONFIG_SPAPR_TCE_IOMMU
static int kvm_vfio_kunit_group_index(struct kvm_vfio_kunit *ctx,
				      struct iommu_group *group)
{
	int i;

	for (i = 0; i < KVM_VFIO_KUNIT_FILES; i++)
		if ((void *)group == (void *)&ctx->groups[i])
			return i;
	return -1;
}

static struct iommu_group *kvm_vfio_kunit_iommu_group(struct file *file)
{
	struct kunit *test = kunit_get_current_test();
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);
	int i = kvm_vfio_kunit_index(ctx, file);

	KUNIT_ASSERT_GE(test, i, 0);
	if (!ctx->is_group[i])
		return NULL;
	ctx->group_refs[i]++;
	return (struct iommu_group *)&ctx->groups[i];
}

static void kvm_vfio_kunit_group_put(struct iommu_group *group)
{
	struct kunit *test = kunit_get_current_test();
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);
	int i = kvm_vfio_kunit_group_index(ctx, group);

	KUNIT_ASSERT_GE(test, i, 0);
	KUNIT_EXPECT_GT(test, ctx->group_refs[i], 0);
	ctx->group_refs[i]--;
}

static int kvm_vfio_kunit_spapr_attach(struct kvm *kvm, int tablefd,
				       struct iommu_group *group)
{
	struct kunit *test = kunit_get_current_test();
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);

	KUNIT_EXPECT_GE(test, kvm_vfio_kunit_group_index(ctx, group), 0);
	ctx->attached++;
	return ctx->attach_ret;
}

static void kvm_vfio_kunit_spapr_release(struct kvm *kvm,
					 struct iommu_group *group)
{
	struct kunit *test = kunit_get_current_test();
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);

	KUNIT_EXPECT_GE(test, kvm_vfio_kunit_group_index(ctx, group), 0);
	ctx->released++;
}
#endif

static const struct file_operations kvm_vfio_kunit_fops;

static int kvm_vfio_kunit_init(struct kunit *test)
{
	struct kvm_vfio_kunit *ctx;
	int i, ret;

	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ctx);
	ctx->kvm = kunit_kzalloc(test, sizeof(*ctx->kvm), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ctx->kvm);
	mutex_init(&ctx->kvm->lock);
	INIT_LIST_HEAD(&ctx->kvm->devices);
	ctx->dev.kvm = ctx->kvm;
	ctx->dev.ops = &kvm_vfio_ops;
	test->priv = ctx;

	for (i = 0; i < KVM_VFIO_KUNIT_FILES; i++) {
		ctx->files[i] = anon_inode_getfile("kvm-vfio-kunit",
						   &kvm_vfio_kunit_fops, NULL,
						   O_RDWR);
		KUNIT_ASSERT_FALSE(test, IS_ERR(ctx->files[i]));
		ctx->coherent[i] = true;
	}

	kunit_activate_static_stub(test, kvm_vfio_file_coherent,
				   kvm_vfio_kunit_coherent);
	kunit_activate_static_stub(test, kvm_vfio_bind_kvm,
				   kvm_vfio_kunit_set_kvm);
	kunit_activate_static_stub(test, kvm_vfio_arch_noncoherent,
				   kvm_vfio_kunit_noncoherent);
#ifdef CONFIG_SPAPR_TCE_IOMMU
	kunit_activate_static_stub(test, kvm_vfio_iommu_group,
				   kvm_vfio_kunit_iommu_group);
	kunit_activate_static_stub(test, kvm_vfio_iommu_group_put,
				   kvm_vfio_kunit_group_put);
	kunit_activate_static_stub(test, kvm_vfio_spapr_attach,
				   kvm_vfio_kunit_spapr_attach);
	kunit_activate_static_stub(test, kvm_vfio_spapr_release,
				   kvm_vfio_kunit_spapr_release);
#endif

	mutex_lock(&ctx->kvm->lock);
	ret = kvm_vfio_bridge_create(&ctx->dev, KVM_DEV_TYPE_VFIO);
	mutex_unlock(&ctx->kvm->lock);
	KUNIT_ASSERT_EQ(test, ret, 0);
	return 0;
}

static void kvm_vfio_kunit_exit(struct kunit *test)
{
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);
	struct kvm_vfio *bridge = ctx->dev.private;
	struct kvm_vfio_entry *entry, *next;
	int i;

	/* Tests that did not release the bridge: free it without hooks. */
	if (bridge) {
		list_for_each_entry_safe(entry, next, &bridge->files, node) {
			list_del(&entry->node);
			fput(entry->file);
			kfree(entry);
		}
		kfree(bridge);
	}
	for (i = 0; i < KVM_VFIO_KUNIT_FILES; i++)
		if (!IS_ERR_OR_NULL(ctx->files[i]))
			fput(ctx->files[i]);
}

/* Add file @i the way kvm_vfio_add_fd() does after fget(). */
static int kvm_vfio_kunit_add(struct kunit *test, int i)
{
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);
	int ret;

	get_file(ctx->files[i]);
	ret = __kvm_vfio_add(&ctx->dev, ctx->files[i]);
	if (ret)
		fput(ctx->files[i]);
	return ret;
}

static int kvm_vfio_kunit_del(struct kunit *test, int i)
{
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);

	return __kvm_vfio_del(&ctx->dev, ctx->files[i]);
}

static void kvm_vfio_kunit_release(struct kunit *test)
{
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);

	mutex_lock(&ctx->kvm->lock);
	/* kvm_vfio_bridge_release() frees the device: hand it a copy. */
	kvm_vfio_bridge_release(kmemdup(&ctx->dev, sizeof(ctx->dev), GFP_KERNEL));
	mutex_unlock(&ctx->kvm->lock);
	ctx->dev.private = NULL;
}

#define KVM_VFIO_EXPECT(test, ctx, nfiles, nnoncoherent, reg)			\
do {										\
	KUNIT_EXPECT_EQ(test, (ctx)->kvm->stat.generic.vfio_files, nfiles);	\
	KUNIT_EXPECT_EQ(test, (ctx)->kvm->stat.generic.vfio_noncoherent_files,	\
			nnoncoherent);						\
	KUNIT_EXPECT_EQ(test, (ctx)->registered, reg);				\
} while (0)

/* Coherent files never register the VM, however many there are. */
static void kvm_vfio_test_coherent_only(struct kunit *test)
{
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);
	int i;

	for (i = 0; i < KVM_VFIO_KUNIT_FILES; i++)
		KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_add(test, i), 0);
	KVM_VFIO_EXPECT(test, ctx, KVM_VFIO_KUNIT_FILES, 0, 0);
	for (i = 0; i < KVM_VFIO_KUNIT_FILES; i++)
		KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_del(test, i), 0);
	KVM_VFIO_EXPECT(test, ctx, 0, 0, 0);
	KUNIT_EXPECT_EQ(test, ctx->edges, 0);
}

/*
 * Several non-coherent files register the VM once, and only deleting the
 * last of them unregisters it.
 */
static void kvm_vfio_test_one_registration(struct kunit *test)
{
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);

	ctx->coherent[1] = false;
	ctx->coherent[2] = false;

	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_add(test, 0), 0);
	KVM_VFIO_EXPECT(test, ctx, 1, 0, 0);
	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_add(test, 1), 0);
	KVM_VFIO_EXPECT(test, ctx, 2, 1, 1);
	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_add(test, 2), 0);
	KVM_VFIO_EXPECT(test, ctx, 3, 2, 1);
	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_del(test, 1), 0);
	KVM_VFIO_EXPECT(test, ctx, 2, 1, 1);
	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_del(test, 0), 0);
	KVM_VFIO_EXPECT(test, ctx, 1, 1, 1);
	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_del(test, 2), 0);
	KVM_VFIO_EXPECT(test, ctx, 0, 0, 0);
	KUNIT_EXPECT_EQ(test, ctx->edges, 2);
}

/*
 * VFIO's answer for a file already added can change (a group gains a
 * device): the next add or delete acts on the new answer.
 */
static void kvm_vfio_test_requery(struct kunit *test)
{
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);

	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_add(test, 0), 0);
	KVM_VFIO_EXPECT(test, ctx, 1, 0, 0);

	ctx->coherent[0] = false;
	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_add(test, 1), 0);
	KVM_VFIO_EXPECT(test, ctx, 2, 1, 1);

	ctx->coherent[0] = true;
	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_del(test, 1), 0);
	KVM_VFIO_EXPECT(test, ctx, 1, 0, 0);
	KUNIT_EXPECT_EQ(test, ctx->edges, 2);
}

/* Failed adds and deletes change nothing. */
static void kvm_vfio_test_failures_change_nothing(struct kunit *test)
{
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);

	ctx->coherent[0] = false;
	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_add(test, 0), 0);
	KUNIT_EXPECT_EQ(test, kvm_vfio_kunit_add(test, 0), -EEXIST);
	KUNIT_EXPECT_EQ(test, kvm_vfio_kunit_del(test, 1), -ENOENT);
	KVM_VFIO_EXPECT(test, ctx, 1, 1, 1);
	KUNIT_EXPECT_EQ(test, ctx->edges, 1);
	/* One reference for the test, one for the bridge. */
	KUNIT_EXPECT_EQ(test, file_count(ctx->files[0]), 2);
	KUNIT_EXPECT_EQ(test, file_count(ctx->files[1]), 1);
}

/*
 * A delete that finds nothing fails with -ENOENT and changes nothing, even
 * when VFIO's answer for a file on the bridge has changed meanwhile: the
 * new answer is acted on at the next add or delete that succeeds.
 */
static void kvm_vfio_test_failed_del(struct kunit *test)
{
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);

	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_add(test, 0), 0);
	KVM_VFIO_EXPECT(test, ctx, 1, 0, 0);

	ctx->coherent[0] = false;
	KUNIT_EXPECT_EQ(test, kvm_vfio_kunit_del(test, 1), -ENOENT);
	KVM_VFIO_EXPECT(test, ctx, 1, 0, 0);
	KUNIT_EXPECT_EQ(test, ctx->edges, 0);
	KUNIT_EXPECT_EQ(test, file_count(ctx->files[1]), 1);

	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_add(test, 1), 0);
	KVM_VFIO_EXPECT(test, ctx, 2, 1, 1);
}

/*
 * set_attr reads the attribute as a long, as it always did: on a 32-bit
 * host bits 32-63 are ignored (FILE_ADD here, which then fails to read its
 * fd from address 0), on a 64-bit host they make it unknown.  has_attr
 * compares all 64 bits on both.
 */
static void kvm_vfio_test_attr_width(struct kunit *test)
{
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);
	struct kvm_device_attr attr = {
		.group = KVM_DEV_VFIO_FILE,
		.attr = BIT_ULL(32) | KVM_DEV_VFIO_FILE_ADD,
		.addr = 0,
	};
	int want = BITS_PER_LONG == 32 ? -EFAULT : -ENXIO;

	KUNIT_EXPECT_EQ(test, kvm_vfio_bridge_set_attr(&ctx->dev, &attr), want);
	KUNIT_EXPECT_EQ(test, kvm_vfio_bridge_has_attr(&ctx->dev, &attr), -ENXIO);
	attr.attr = KVM_DEV_VFIO_FILE_ADD;
	KUNIT_EXPECT_EQ(test, kvm_vfio_bridge_set_attr(&ctx->dev, &attr), -EFAULT);
	KUNIT_EXPECT_EQ(test, kvm_vfio_bridge_has_attr(&ctx->dev, &attr), 0);
	KVM_VFIO_EXPECT(test, ctx, 0, 0, 0);
}

/* VFIO is told the VM on add and forgets it on delete. */
static void kvm_vfio_test_set_kvm(struct kunit *test)
{
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);

	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_add(test, 0), 0);
	KUNIT_EXPECT_PTR_EQ(test, ctx->set_kvm[0], ctx->kvm);
	KUNIT_EXPECT_EQ(test, file_count(ctx->files[0]), 2);
	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_del(test, 0), 0);
	KUNIT_EXPECT_NULL(test, ctx->set_kvm[0]);
	KUNIT_EXPECT_EQ(test, file_count(ctx->files[0]), 1);
}

/*
 * Release undoes everything for every file and drops the registration,
 * without asking VFIO anything (it runs under kvm->lock).
 */
static void kvm_vfio_test_release(struct kunit *test)
{
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);
	int i;

	ctx->coherent[1] = false;
	ctx->coherent[3] = false;
	for (i = 0; i < KVM_VFIO_KUNIT_FILES; i++)
		KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_add(test, i), 0);
	KVM_VFIO_EXPECT(test, ctx, KVM_VFIO_KUNIT_FILES, 2, 1);

	ctx->no_queries = true;
	kvm_vfio_kunit_release(test);

	KVM_VFIO_EXPECT(test, ctx, 0, 0, 0);
	KUNIT_EXPECT_EQ(test, ctx->edges, 2);
	for (i = 0; i < KVM_VFIO_KUNIT_FILES; i++) {
		KUNIT_EXPECT_NULL(test, ctx->set_kvm[i]);
		KUNIT_EXPECT_EQ(test, file_count(ctx->files[i]), 1);
	}
}

/* Releasing a bridge with only coherent files never touches the count. */
static void kvm_vfio_test_release_coherent(struct kunit *test)
{
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);

	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_add(test, 0), 0);
	kvm_vfio_kunit_release(test);
	KVM_VFIO_EXPECT(test, ctx, 0, 0, 0);
	KUNIT_EXPECT_EQ(test, ctx->edges, 0);
}

/* A VM has one bridge: a second create fails while the first exists. */
static void kvm_vfio_test_one_per_vm(struct kunit *test)
{
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);
	struct kvm_device other = { .kvm = ctx->kvm, .ops = &kvm_vfio_ops };
	int ret;

	mutex_lock(&ctx->kvm->lock);
	list_add(&ctx->dev.vm_node, &ctx->kvm->devices);
	ret = kvm_vfio_bridge_create(&other, KVM_DEV_TYPE_VFIO);
	list_del(&ctx->dev.vm_node);
	mutex_unlock(&ctx->kvm->lock);

	KUNIT_EXPECT_EQ(test, ret, -EBUSY);
	KUNIT_EXPECT_NULL(test, other.private);
}

#ifdef CONFIG_SPAPR_TCE_IOMMU
static int kvm_vfio_kunit_set_spapr_tce(struct kunit *test, int i)
{
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);

	return __kvm_vfio_set_spapr_tce(&ctx->dev, ctx->files[i], 42);
}

/*
 * SET_SPAPR_TCE takes one reference on the file's iommu_group, however
 * often it is called; delete detaches the group and puts the reference.
 */
static void kvm_vfio_test_spapr_del(struct kunit *test)
{
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);

	ctx->is_group[0] = true;
	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_add(test, 0), 0);
	KUNIT_EXPECT_EQ(test, kvm_vfio_kunit_set_spapr_tce(test, 0), 0);
	KUNIT_EXPECT_EQ(test, kvm_vfio_kunit_set_spapr_tce(test, 0), 0);
	KUNIT_EXPECT_EQ(test, ctx->attached, 2);
	KUNIT_EXPECT_EQ(test, ctx->group_refs[0], 1);

	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_del(test, 0), 0);
	KUNIT_EXPECT_EQ(test, ctx->released, 1);
	KUNIT_EXPECT_EQ(test, ctx->group_refs[0], 0);
}

/* Release does the same for every file that has a group. */
static void kvm_vfio_test_spapr_release(struct kunit *test)
{
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);
	int i;

	for (i = 0; i < KVM_VFIO_KUNIT_FILES; i++) {
		ctx->is_group[i] = true;
		KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_add(test, i), 0);
	}
	KUNIT_EXPECT_EQ(test, kvm_vfio_kunit_set_spapr_tce(test, 1), 0);
	KUNIT_EXPECT_EQ(test, kvm_vfio_kunit_set_spapr_tce(test, 2), 0);

	kvm_vfio_kunit_release(test);
	KUNIT_EXPECT_EQ(test, ctx->released, 2);
	for (i = 0; i < KVM_VFIO_KUNIT_FILES; i++)
		KUNIT_EXPECT_EQ(test, ctx->group_refs[i], 0);
}

/*
 * A file that is not on the bridge, or has no group (a device cdev), gets
 * its errno and no reference; a failed attach keeps the reference until
 * the file leaves, as the base did.
 */
static void kvm_vfio_test_spapr_errors(struct kunit *test)
{
	struct kvm_vfio_kunit *ctx = kvm_vfio_kunit_ctx(test);

	ctx->is_group[1] = true;
	KUNIT_EXPECT_EQ(test, kvm_vfio_kunit_set_spapr_tce(test, 1), -ENOENT);
	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_add(test, 0), 0);
	KUNIT_EXPECT_EQ(test, kvm_vfio_kunit_set_spapr_tce(test, 0), -EIO);
	KUNIT_EXPECT_EQ(test, ctx->attached, 0);

	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_add(test, 1), 0);
	ctx->attach_ret = -EINVAL;
	KUNIT_EXPECT_EQ(test, kvm_vfio_kunit_set_spapr_tce(test, 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, ctx->group_refs[1], 1);

	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_del(test, 0), 0);
	KUNIT_ASSERT_EQ(test, kvm_vfio_kunit_del(test, 1), 0);
	KUNIT_EXPECT_EQ(test, ctx->released, 1);
	KUNIT_EXPECT_EQ(test, ctx->group_refs[0], 0);
	KUNIT_EXPECT_EQ(test, ctx->group_refs[1], 0);
}
#endif

static struct kunit_case kvm_vfio_test_cases[] = {
	KUNIT_CASE(kvm_vfio_test_coherent_only),
	KUNIT_CASE(kvm_vfio_test_one_registration),
	KUNIT_CASE(kvm_vfio_test_requery),
	KUNIT_CASE(kvm_vfio_test_failures_change_nothing),
	KUNIT_CASE(kvm_vfio_test_failed_del),
	KUNIT_CASE(kvm_vfio_test_attr_width),
	KUNIT_CASE(kvm_vfio_test_set_kvm),
	KUNIT_CASE(kvm_vfio_test_release),
	KUNIT_CASE(kvm_vfio_test_release_coherent),
	KUNIT_CASE(kvm_vfio_test_one_per_vm),
#ifdef CONFIG_SPAPR_TCE_IOMMU
	KUNIT_CASE(kvm_vfio_test_spapr_del),
	KUNIT_CASE(kvm_vfio_test_spapr_release),
	KUNIT_CASE(kvm_vfio_test_spapr_errors),
#endif
	{}
};

static struct kunit_suite kvm_vfio_test_suite = {
	.name = "kvm_vfio",
	.init = kvm_vfio_kunit_init,
	.exit = kvm_vfio_kunit_exit,
	.test_cases = kvm_vfio_test_cases,
};

kunit_test_suite(kvm_vfio_test_suite);
