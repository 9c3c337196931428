/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What x86 KVM does about DMA that may bypass the CPU caches: the per-VM
 * count of non-coherent DMA sources and the decisions that depend on it.
 */
#ifndef ARCH_X86_KVM_NONCOHERENT_H
#define ARCH_X86_KVM_NONCOHERENT_H

#include <linux/kvm_host.h>

/**
 * enum kvm_guest_memtype - how the TDP MMU maps a guest page
 * @KVM_MEMTYPE_UC: uncacheable, whatever the guest asks for
 * @KVM_MEMTYPE_WB_IGNORE_PAT: write-back, the guest's PAT is ignored
 * @KVM_MEMTYPE_WB_GUEST_PAT: write-back combined with the guest's PAT,
 *	so the guest's UC and WC mappings take effect
 */
enum kvm_guest_memtype {
	KVM_MEMTYPE_UC,
	KVM_MEMTYPE_WB_IGNORE_PAT,
	KVM_MEMTYPE_WB_GUEST_PAT,
};

/**
 * kvm_noncoherent_memtype() - choose the memory type of a guest mapping
 * @is_mmio: the page is host MMIO
 * @vm_noncoherent: the VM has a DMA source that does not snoop CPU caches
 * @ignore_pat_quirk: KVM_X86_QUIRK_IGNORE_GUEST_PAT is in effect
 *
 * Host MMIO is always uncacheable: a cacheable access to it can raise a
 * machine check.  Guest PAT is honoured whenever non-coherent DMA is
 * possible, because the guest then relies on its UC and WC mappings (and
 * on WBINVD) to see what devices wrote; without such DMA it is ignored
 * while the quirk is in effect.
 *
 * Return: the memory type for the mapping.
 */
static inline enum kvm_guest_memtype
kvm_noncoherent_memtype(bool is_mmio, bool vm_noncoherent, bool ignore_pat_quirk)
{
	if (is_mmio)
		return KVM_MEMTYPE_UC;
	if (!vm_noncoherent && ignore_pat_quirk)
		return KVM_MEMTYPE_WB_IGNORE_PAT;
	return KVM_MEMTYPE_WB_GUEST_PAT;
}

/**
 * kvm_noncoherent_count_zaps() - whether a change of the count needs a zap
 * @old_count: the VM's non-coherent DMA count before the change
 * @new_count: the count after it
 * @ignore_pat_quirk: KVM_X86_QUIRK_IGNORE_GUEST_PAT is in effect
 *
 * Existing SPTEs must go exactly when the memory type of guest RAM they
 * hold differs before and after the change.
 *
 * Return: true if all SPTEs of the VM must be zapped.
 */
static inline bool kvm_noncoherent_count_zaps(int old_count, int new_count,
					      bool ignore_pat_quirk)
{
	return kvm_noncoherent_memtype(false, old_count, ignore_pat_quirk) !=
	       kvm_noncoherent_memtype(false, new_count, ignore_pat_quirk);
}

void kvm_noncoherent_vcpu_load(struct kvm_vcpu *vcpu, int cpu);
int kvm_noncoherent_wbinvd(struct kvm_vcpu *vcpu);
void kvm_noncoherent_quirks_disabled(struct kvm *kvm, u64 old_disabled);

#endif /* ARCH_X86_KVM_NONCOHERENT_H */
