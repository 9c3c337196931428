# Build, boot and test the KVM non-coherent DMA series on a pinned base.
#   make          build the patched kernel, boot it, print the bridge report
#   make check    all tests; ends with "N passed, N failed, N skipped"
#   make check-vmx only the Bochs boot (Intel VMX with EPT) and its summary
#   make stress   kvm_vfio_fuzz at scale: 10^6 operations on the QEMU boot,
#                 a shorter run under Bochs (harness/stress*.list); not in CI
#   make bench    the series against the unpatched base, side by side under
#                 QEMU and Bochs: tables and plots in build/bench/; not in CI
#   make shell    the test VM with an interactive shell
#   make tree     only assemble build/<base>/linux (base + series as commits)
#   make series   the series as patches with a cover letter, in build/<base>/series
#   make series-check  build every commit, checkpatch, sparse, kernel-doc,
#                 htmldocs, cross builds (see harness/series-check.sh)
#   make clean    remove build/ (ccache stays in ~/.cache/ccache)
# Variables: BASE=7.3 (default, mainline) or BASE=6.12 (the LTS backport),
#            BOOTS="check vmx vmx-ept0 vmx-tdpmmu0 kunit-ppc64" (the boots of
#            make check; also kunit-i386, or kunit for both KUnit hosts), BUILD=dir, JOBS=n,
#            DEBUG_CONFIG=none, BOOT_TIMEOUT=s, BOCHS_STALL=s,
#            BASE_TARBALL=file BASE_SHA256=sum|any, BASE_TREE=dir (see README.md)
H := harness
export BASE SERIES BENCH_BOOTS SELFTESTS SELFTESTS_VMX BUILD JOBS DEBUG_CONFIG BOOT_TIMEOUT BASE_TARBALL BASE_SHA256 BASE_TREE KERNEL_ARGS
# Exported even when unset (then as ""): the Bochs boot's default arguments
# are set here so that an unset variable does not clear them.
# memmap= reserves 4 MiB of RAM outside the direct map for
# noncoherent_memslot_test's /dev/mem case.
BOCHS_KERNEL_ARGS ?= kmemleak=off noxsave memmap=4M$$0x40000000
export BOCHS_STALL BOCHS_KERNEL_ARGS

.PHONY: all demo check check-vmx stress bench shell deps tree kernel payload clean
.PHONY: series series-check
all: demo

deps:
	@$(H)/deps.sh
tree: deps
	@$(H)/assemble.sh
kernel: tree
	@$(H)/build.sh config
	@$(H)/build.sh kernel
payload: kernel
	@$(H)/build.sh selftests
	@$(H)/build.sh initramfs
	@$(H)/build.sh initramfs-vmx

demo: kernel
	@$(H)/build.sh selftests
	@$(H)/build.sh initramfs
	@$(H)/boot.sh demo demo
	@$(H)/report.sh

check: payload
	@$(H)/check.sh $(BOOTS)

check-vmx: kernel
	@$(H)/build.sh selftests
	@$(H)/build.sh initramfs-vmx
	@$(H)/check.sh vmx

# Same boots and logs as make check, other lists, longer limits.
stress: SELFTESTS = $(H)/stress.list
stress: SELFTESTS_VMX = $(H)/stress-vmx.list
stress: BOOT_TIMEOUT = 7200
stress: BOCHS_STALL = 7200
stress: KERNEL_ARGS += harness.timeout=6000
stress: kernel
	@$(H)/build.sh selftests
	@$(H)/build.sh initramfs
	@$(H)/build.sh initramfs-vmx
	@$(H)/check.sh check vmx

bench: kernel
	@$(H)/bench.sh

shell: payload
	@$(H)/boot.sh shell shell

series: tree
	@$(H)/series.sh
series-check: series
	@$(H)/deps-series.sh
	@$(H)/series-check.sh

clean:
	rm -rf build
