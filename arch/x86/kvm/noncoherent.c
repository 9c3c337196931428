// SPDX-License-Identifier: GPL-2.0-only
/*
 * Non-coherent DMA on x86: a device whose DMA does not snoop the CPU
 * caches (an IOMMU without snoop control, or no IOMMU at all) only sees
 * what the guest wrote once the guest has written it back, with WBINVD or
 * by mapping the memory UC or WC.  While a VM has such a device, KVM
 * therefore has to honour the guest's memory types and make a guest WBINVD
 * reach every CPU that may hold the guest's dirty lines.
 *
 * The per-VM count of non-coherent DMA sources is driven by the KVM-VFIO
 * device.  This file holds the count and every decision that depends on
 * it, so they can be read, traced and tested in one place:
 *
 *  - WBINVD: a no-op while the count is zero; otherwise a flush of every
 *    CPU in the vCPU's wbinvd_dirty_mask, which holds each CPU the vCPU
 *    ran on since its last flush, whether or not the count was zero then.
 *  - Memory type: kvm_noncoherent_memtype() (noncoherent.h) for VMX's EPT.
 *  - Transitions: SPTEs are zapped when a change of the count or of the
 *    IGNORE_GUEST_PAT quirk changes the memory type they hold.
 */

#include <linux/kvm_host.h>
#include <linux/smp.h>

#include "mmu.h"
#include "noncoherent.h"
#include "trace.h"
#include "x86.h"

static void kvm_noncoherent_count_changed(struct kvm *kvm, int old_count,
					  int new_count)
{
	bool quirk = kvm_check_has_quirk(kvm, KVM_X86_QUIRK_IGNORE_GUEST_PAT);
	bool zap = kvm_noncoherent_count_zaps(old_count, new_count, quirk);

	/*
	 * The KVM-VFIO device's lock serialises the writers of the first
	 * two; guest_pat_zaps is also bumped by a quirk change, which does
	 * not take that lock.
	 */
	kvm->stat.noncoherent_dma = new_count;
	if (!old_count != !new_count)
		kvm->stat.noncoherent_dma_edges++;
	if (zap)
		atomic64_inc(&kvm->stat.guest_pat_zaps);
	trace_kvm_noncoherent_dma(new_count > old_count, new_count, zap);

	if (zap)
		kvm_zap_gfn_range(kvm, gpa_to_gfn(0), gpa_to_gfn(~0ULL));
}

void kvm_arch_register_noncoherent_dma(struct kvm *kvm)
{
	int count = atomic_inc_return(&kvm->arch.noncoherent_dma_count);

	kvm_noncoherent_count_changed(kvm, count - 1, count);
}

void kvm_arch_unregister_noncoherent_dma(struct kvm *kvm)
{
	int count = atomic_dec_return(&kvm->arch.noncoherent_dma_count);

	kvm_noncoherent_count_changed(kvm, count + 1, count);
}

bool kvm_arch_has_noncoherent_dma(struct kvm *kvm)
{
	return atomic_read(&kvm->arch.noncoherent_dma_count);
}
EXPORT_SYMBOL_FOR_KVM_INTERNAL(kvm_arch_has_noncoherent_dma);

/**
 * kvm_noncoherent_quirks_disabled() - act on quirks userspace disabled
 * @kvm: the VM
 * @old_disabled: kvm->arch.disabled_quirks before the change
 *
 * SPTEs made while KVM_X86_QUIRK_IGNORE_GUEST_PAT was in effect may ignore
 * guest PAT: zap them so that disabling the quirk also covers memory the
 * guest has already touched.  The count is not looked at: a registration
 * racing with this change could see the quirk already disabled and skip
 * its own zap.  Quirks are disabled once, before the guest normally runs.
 */
void kvm_noncoherent_quirks_disabled(struct kvm *kvm, u64 old_disabled)
{
	bool zap = !(old_disabled & KVM_X86_QUIRK_IGNORE_GUEST_PAT) &&
		   !kvm_check_has_quirk(kvm, KVM_X86_QUIRK_IGNORE_GUEST_PAT);

	trace_kvm_guest_pat_quirk(zap);
	if (!zap)
		return;
	atomic64_inc(&kvm->stat.guest_pat_zaps);
	kvm_zap_gfn_range(kvm, gpa_to_gfn(0), gpa_to_gfn(~0ULL));
}

/**
 * kvm_noncoherent_vcpu_load() - note the CPU a vCPU is loaded on
 * @vcpu: the vCPU
 * @cpu: the CPU it now runs on
 *
 * With WBINVD exiting, every CPU the vCPU runs on joins its dirty mask,
 * also while the count is zero: the guest's dirty lines stay in that CPU's
 * caches, and the first WBINVD after non-coherent DMA arrives must write
 * them back too.  Without WBINVD exiting the guest's WBINVD runs natively
 * on the current CPU, so the CPU left behind is flushed here.
 */
void kvm_noncoherent_vcpu_load(struct kvm_vcpu *vcpu, int cpu)
{
	if (kvm_x86_call(has_wbinvd_exit)()) {
		if (!cpumask_test_cpu(cpu, vcpu->arch.wbinvd_dirty_mask))
			cpumask_set_cpu(cpu, vcpu->arch.wbinvd_dirty_mask);
	} else if (kvm_arch_has_noncoherent_dma(vcpu->kvm) &&
		   vcpu->cpu != -1 && vcpu->cpu != cpu) {
		wbinvd_on_cpu(vcpu->cpu);
	}
}

/**
 * kvm_noncoherent_wbinvd() - emulate a guest WBINVD
 * @vcpu: the vCPU that executed it
 *
 * Return: X86EMUL_CONTINUE; the caller skips the instruction.
 */
int kvm_noncoherent_wbinvd(struct kvm_vcpu *vcpu)
{
	unsigned int cpus = 0;
	int cpu;

	++vcpu->stat.wbinvd_exits;
	if (!kvm_arch_has_noncoherent_dma(vcpu->kvm))
		goto out;

	if (kvm_x86_call(has_wbinvd_exit)()) {
		cpu = get_cpu();
		cpumask_set_cpu(cpu, vcpu->arch.wbinvd_dirty_mask);
		cpus = cpumask_weight_and(vcpu->arch.wbinvd_dirty_mask,
					  cpu_online_mask);
		wbinvd_on_cpus_mask(vcpu->arch.wbinvd_dirty_mask);
		/*
		 * The vCPU goes on dirtying lines on this CPU, so it stays in
		 * the mask.  Reset the mask before preemption is possible
		 * again, or a reschedule in between would add the new CPU and
		 * then lose it.
		 */
		cpumask_copy(vcpu->arch.wbinvd_dirty_mask, cpumask_of(cpu));
		put_cpu();
	} else {
		wbinvd();
		cpus = 1;
	}
	++vcpu->stat.wbinvd_flushes;
	vcpu->stat.wbinvd_cpus_flushed += cpus;
out:
	trace_kvm_wbinvd(vcpu->vcpu_id, cpus);
	return X86EMUL_CONTINUE;
}

int kvm_emulate_wbinvd(struct kvm_vcpu *vcpu)
{
	kvm_noncoherent_wbinvd(vcpu);
	return kvm_skip_emulated_instruction(vcpu);
}
EXPORT_SYMBOL_FOR_KVM_INTERNAL(kvm_emulate_wbinvd);
