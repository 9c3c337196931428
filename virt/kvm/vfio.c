// SPDX-License-Identifier: GPL-2.0-only
/*
 * Copyright (C) 2013 Red Hat, Inc.  All rights reserved.
 *     Author: Alex Williamson <alex.williamson@redhat.com>
 *
 * The KVM-VFIO bridge: a pseudo device (KVM_DEV_TYPE_VFIO) through which
 * userspace tells KVM which VFIO files, groups or device cdevs, belong to a
 * VM.  For each file it is given, the bridge:
 *
 *  - holds a reference on the struct file until the file is deleted or the
 *    bridge's own fd is closed;
 *  - tells VFIO the VM (vfio_file_set_kvm()), for drivers that need the kvm
 *    when the device is opened, which is why files are added before that;
 *  - asks VFIO whether the IOMMU behind the file enforces cache coherency.
 *
 * Coherency.  A file is non-coherent when VFIO says its DMA may bypass the
 * CPU caches, or when VFIO cannot be asked.  The VM is registered with the
 * architecture as having non-coherent DMA exactly while at least one of the
 * bridge's files is non-coherent: kvm_vfio.noncoherent records that the
 * bridge holds the VM's registration, so it adds at most one to the arch
 * count, whatever the number of non-coherent files.  Every add and every
 * delete that removes a file asks VFIO again about every file, as a
 * group's answer changes when devices join it; a call that fails changes
 * nothing.  Release does not ask: it runs under kvm->lock, under
 * which no VFIO mutex may be taken, and drops the registration outright.
 *
 * Lock order:
 *   kvm->lock (create, release)
 *     kvm_vfio.lock
 *       VFIO's group->device_lock (coherency query) and kvm_ref_lock
 *       (vfio_file_set_kvm()); kvm->mmu_lock (zap on a registration edge)
 * set_attr runs without kvm->lock, so VFIO's mutexes are never taken under
 * it.  The fd of the bridge holds a reference on the VM, so release always
 * runs before the VM is destroyed and no .destroy is needed.
 *
 * VFIO is reached through symbol_get() only: kvm.ko must load without
 * vfio.ko.
 *
 * The bridge's design is Alex Williamson's (2013); this file reworks its
 * implementation around the single coherency update above.
 */

#include <linux/errno.h>
#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#include <kunit/static_stub.h>
#include <trace/events/kvm.h>
#include "vfio.h"

#ifdef CONFIG_SPAPR_TCE_IOMMU
#include <asm/kvm_ppc.h>
#endif

/* A VFIO file added to the bridge, on kvm_vfio.files until DEL or release. */
struct kvm_vfio_entry {
	struct list_head node;
	struct file *file;		/* the reference the bridge holds */
	bool noncoherent;		/* VFIO's last answer for this file */
#ifdef CONFIG_SPAPR_TCE_IOMMU
	struct iommu_group *iommu_group; /* set by SET_SPAPR_TCE */
#endif
};

struct kvm_vfio {
	/* Protects both fields below and the VM's vfio_* statistics. */
	struct mutex lock;
	struct list_head files;
	/* The bridge counts in kvm_arch_has_noncoherent_dma(). */
	bool noncoherent;
};

static const struct kvm_device_ops kvm_vfio_ops;

/* VFIO's side, each call guarded by a module reference on vfio. */

static bool kvm_vfio_is_vfio_file(struct file *file)
{
	bool (*is_valid)(struct file *file) = symbol_get(vfio_file_is_valid);
	bool valid = false;

	if (is_valid) {
		valid = is_valid(file);
		symbol_put(vfio_file_is_valid);
	}
	return valid;
}

static bool kvm_vfio_file_coherent(struct file *file)
{
	bool (*coherent)(struct file *file);
	bool ret = false;

	KUNIT_STATIC_STUB_REDIRECT(kvm_vfio_file_coherent, file);

	coherent = symbol_get(vfio_file_enforced_coherent);
	if (coherent) {
		ret = coherent(file);
		symbol_put(vfio_file_enforced_coherent);
	}
	return ret;
}

static void kvm_vfio_bind_kvm(struct file *file, struct kvm *kvm)
{
	void (*set_kvm)(struct file *file, struct kvm *kvm);

	KUNIT_STATIC_STUB_REDIRECT(kvm_vfio_bind_kvm, file, kvm);

	set_kvm = symbol_get(vfio_file_set_kvm);
	if (set_kvm) {
		set_kvm(file, kvm);
		symbol_put(vfio_file_set_kvm);
	}
}

#ifdef CONFIG_SPAPR_TCE_IOMMU
/* Returns a reference on the group of a VFIO group file, NULL for a cdev. */
static struct iommu_group *kvm_vfio_iommu_group(struct file *file)
{
	struct iommu_group *(*get_group)(struct file *file);
	struct iommu_group *group = NULL;

	KUNIT_STATIC_STUB_REDIRECT(kvm_vfio_iommu_group, file);

	get_group = symbol_get(vfio_file_iommu_group);
	if (get_group) {
		group = get_group(file);
		symbol_put(vfio_file_iommu_group);
	}
	return group;
}

static void kvm_vfio_iommu_group_put(struct iommu_group *group)
{
	KUNIT_STATIC_STUB_REDIRECT(kvm_vfio_iommu_group_put, group);

	iommu_group_put(group);
}

/* The architecture's side: sPAPR TCE tables. */

static int kvm_vfio_spapr_attach(struct kvm *kvm, int tablefd,
				 struct iommu_group *group)
{
	KUNIT_STATIC_STUB_REDIRECT(kvm_vfio_spapr_attach, kvm, tablefd, group);

	return kvm_spapr_tce_attach_iommu_group(kvm, tablefd, group);
}

static void kvm_vfio_spapr_release(struct kvm *kvm, struct iommu_group *group)
{
	KUNIT_STATIC_STUB_REDIRECT(kvm_vfio_spapr_release, kvm, group);

	kvm_spapr_tce_release_iommu_group(kvm, group);
}
#endif

/* The architecture's side: non-coherent DMA. */

static void kvm_vfio_arch_noncoherent(struct kvm *kvm, bool noncoherent)
{
	KUNIT_STATIC_STUB_REDIRECT(kvm_vfio_arch_noncoherent, kvm, noncoherent);

	if (noncoherent)
		kvm_arch_register_noncoherent_dma(kvm);
	else
		kvm_arch_unregister_noncoherent_dma(kvm);
}

/* Register or unregister the VM, on edges only. */
static void kvm_vfio_set_noncoherent(struct kvm_device *dev, bool noncoherent)
{
	struct kvm_vfio *bridge = dev->private;

	lockdep_assert_held(&bridge->lock);

	if (bridge->noncoherent != noncoherent) {
		bridge->noncoherent = noncoherent;
		kvm_vfio_arch_noncoherent(dev->kvm, noncoherent);
	}
}

/*
 * Ask VFIO about every file, publish the counts and move the registration
 * if the answer for the whole VM changed.
 */
static void kvm_vfio_recount(struct kvm_device *dev)
{
	struct kvm_vfio *bridge = dev->private;
	struct kvm_vm_stat_generic *stat = &dev->kvm->stat.generic;
	struct kvm_vfio_entry *entry;
	u64 files = 0, noncoherent = 0;

	lockdep_assert_held(&bridge->lock);

	list_for_each_entry(entry, &bridge->files, node) {
		entry->noncoherent = !kvm_vfio_file_coherent(entry->file);
		noncoherent += entry->noncoherent;
		files++;
	}
	stat->vfio_files = files;
	stat->vfio_noncoherent_files = noncoherent;

	kvm_vfio_set_noncoherent(dev, noncoherent);
}

static struct kvm_vfio_entry *kvm_vfio_find(struct kvm_vfio *bridge,
					    struct file *file)
{
	struct kvm_vfio_entry *entry;

	lockdep_assert_held(&bridge->lock);

	list_for_each_entry(entry, &bridge->files, node)
		if (entry->file == file)
			return entry;
	return NULL;
}

/* Undo everything __kvm_vfio_add() did for @entry, and free it. */
static void kvm_vfio_drop(struct kvm_device *dev, struct kvm_vfio_entry *entry,
			  const char *why)
{
	struct kvm_vfio *bridge = dev->private;
	struct kvm_vm_stat_generic *stat = &dev->kvm->stat.generic;

	lockdep_assert_held(&bridge->lock);

	list_del(&entry->node);
	stat->vfio_files--;
	stat->vfio_noncoherent_files -= entry->noncoherent;
	trace_kvm_vfio_file(why, !entry->noncoherent, stat->vfio_files,
			    stat->vfio_noncoherent_files);

#ifdef CONFIG_SPAPR_TCE_IOMMU
	if (entry->iommu_group) {
		kvm_vfio_spapr_release(dev->kvm, entry->iommu_group);
		kvm_vfio_iommu_group_put(entry->iommu_group);
	}
#endif
	kvm_vfio_bind_kvm(entry->file, NULL);
	fput(entry->file);
	kfree(entry);
}

/*
 * Add @file, a VFIO file the caller holds a reference on.  On success the
 * reference belongs to the bridge; on failure it stays with the caller.
 */
static int __kvm_vfio_add(struct kvm_device *dev, struct file *file)
{
	struct kvm_vfio *bridge = dev->private;
	struct kvm_vfio_entry *entry;

	guard(mutex)(&bridge->lock);

	if (kvm_vfio_find(bridge, file))
		return -EEXIST;

	entry = kzalloc_obj(*entry, GFP_KERNEL_ACCOUNT);
	if (!entry)
		return -ENOMEM;

	entry->file = file;
	list_add_tail(&entry->node, &bridge->files);
	kvm_vfio_bind_kvm(file, dev->kvm);
	kvm_vfio_recount(dev);
	trace_kvm_vfio_file("add", !entry->noncoherent,
			    dev->kvm->stat.generic.vfio_files,
			    dev->kvm->stat.generic.vfio_noncoherent_files);
	return 0;
}

static int kvm_vfio_add_fd(struct kvm_device *dev, int fd)
{
	struct file *file;
	int ret;

	file = fget(fd);
	if (!file)
		return -EBADF;

	ret = -EINVAL;
	if (kvm_vfio_is_vfio_file(file))
		ret = __kvm_vfio_add(dev, file);
	if (ret)
		fput(file);
	return ret;
}

static int __kvm_vfio_del(struct kvm_device *dev, struct file *file)
{
	struct kvm_vfio *bridge = dev->private;
	struct kvm_vfio_entry *entry;

	guard(mutex)(&bridge->lock);

	entry = kvm_vfio_find(bridge, file);
	if (!entry)
		return -ENOENT;

	kvm_vfio_drop(dev, entry, "del");
	kvm_vfio_recount(dev);
	return 0;
}

static int kvm_vfio_del_fd(struct kvm_device *dev, int fd)
{
	CLASS(fd, f)(fd);

	if (fd_empty(f))
		return -EBADF;
	return __kvm_vfio_del(dev, fd_file(f));
}

#ifdef CONFIG_SPAPR_TCE_IOMMU
static int __kvm_vfio_set_spapr_tce(struct kvm_device *dev, struct file *file,
				    int tablefd)
{
	struct kvm_vfio *bridge = dev->private;
	struct kvm_vfio_entry *entry;

	guard(mutex)(&bridge->lock);

	entry = kvm_vfio_find(bridge, file);
	if (!entry)
		return -ENOENT;

	/*
	 * Only group files have an iommu_group; a device cdev has none.  The
	 * reference is kept until the file leaves the bridge.
	 */
	if (!entry->iommu_group)
		entry->iommu_group = kvm_vfio_iommu_group(entry->file);
	if (!entry->iommu_group)
		return -EIO;

	return kvm_vfio_spapr_attach(dev->kvm, tablefd, entry->iommu_group);
}

static int kvm_vfio_set_spapr_tce(struct kvm_device *dev, void __user *arg)
{
	struct kvm_vfio_spapr_tce param;

	if (copy_from_user(&param, arg, sizeof(param)))
		return -EFAULT;

	CLASS(fd, f)(param.groupfd);
	if (fd_empty(f))
		return -EBADF;

	return __kvm_vfio_set_spapr_tce(dev, fd_file(f), param.tablefd);
}
#endif

/*
 * @attr is a long, as it always was here: on 32-bit hosts set_attr matches
 * only the low 32 bits of the u64 that userspace passes (has_attr all 64).
 */
static int kvm_vfio_file_attr(struct kvm_device *dev, long attr,
			      void __user *arg)
{
	s32 __user *fdp = arg;
	s32 fd;

	switch (attr) {
	case KVM_DEV_VFIO_FILE_ADD:
		if (get_user(fd, fdp))
			return -EFAULT;
		return kvm_vfio_add_fd(dev, fd);
	case KVM_DEV_VFIO_FILE_DEL:
		if (get_user(fd, fdp))
			return -EFAULT;
		return kvm_vfio_del_fd(dev, fd);
#ifdef CONFIG_SPAPR_TCE_IOMMU
	case KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE:
		return kvm_vfio_set_spapr_tce(dev, arg);
#endif
	}
	return -ENXIO;
}

static int kvm_vfio_bridge_set_attr(struct kvm_device *dev,
				    struct kvm_device_attr *attr)
{
	if (attr->group != KVM_DEV_VFIO_FILE)
		return -ENXIO;
	return kvm_vfio_file_attr(dev, attr->attr, u64_to_user_ptr(attr->addr));
}

static int kvm_vfio_bridge_has_attr(struct kvm_device *dev,
				    struct kvm_device_attr *attr)
{
	if (attr->group != KVM_DEV_VFIO_FILE)
		return -ENXIO;

	switch (attr->attr) {
	case KVM_DEV_VFIO_FILE_ADD:
	case KVM_DEV_VFIO_FILE_DEL:
#ifdef CONFIG_SPAPR_TCE_IOMMU
	case KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE:
#endif
		return 0;
	}
	return -ENXIO;
}

/* The bridge's fd is closed: drop every file, then the bridge itself. */
static void kvm_vfio_bridge_release(struct kvm_device *dev)
{
	struct kvm_vfio *bridge = dev->private;
	struct kvm_vfio_entry *entry, *next;

	lockdep_assert_held(&dev->kvm->lock);

	mutex_lock(&bridge->lock);
	list_for_each_entry_safe(entry, next, &bridge->files, node)
		kvm_vfio_drop(dev, entry, "release");
	kvm_vfio_set_noncoherent(dev, false);
	mutex_unlock(&bridge->lock);

	mutex_destroy(&bridge->lock);
	kfree(bridge);
	kfree(dev);
}

static int kvm_vfio_bridge_create(struct kvm_device *dev, u32 type)
{
	struct kvm_device *other;
	struct kvm_vfio *bridge;

	lockdep_assert_held(&dev->kvm->lock);

	/* One bridge per VM: its files decide the VM's coherency. */
	list_for_each_entry(other, &dev->kvm->devices, vm_node)
		if (other->ops == &kvm_vfio_ops)
			return -EBUSY;

	bridge = kzalloc_obj(*bridge, GFP_KERNEL_ACCOUNT);
	if (!bridge)
		return -ENOMEM;

	mutex_init(&bridge->lock);
	INIT_LIST_HEAD(&bridge->files);
	dev->private = bridge;
	return 0;
}

static const struct kvm_device_ops kvm_vfio_ops = {
	.name = "kvm-vfio",
	.create = kvm_vfio_bridge_create,
	.release = kvm_vfio_bridge_release,
	.set_attr = kvm_vfio_bridge_set_attr,
	.has_attr = kvm_vfio_bridge_has_attr,
};

int kvm_vfio_ops_init(void)
{
	return kvm_register_device_ops(&kvm_vfio_ops, KVM_DEV_TYPE_VFIO);
}

void kvm_vfio_ops_exit(void)
{
	kvm_unregister_device_ops(KVM_DEV_TYPE_VFIO);
}

#ifdef CONFIG_KVM_VFIO_KUNIT_TEST
#include "vfio_kunit.c"
#endif
