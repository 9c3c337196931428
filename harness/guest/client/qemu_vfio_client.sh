#!/bin/sh
# Real VMMs as clients of the KVM-VFIO bridge, inside the test VM: Debian's
# QEMU 7.2 (/usr/bin) and QEMU 10 from bookworm-backports (/opt/qemu-10).
#
# Each case starts qemu-system-x86_64 -accel kvm -S with one device assigned
# and checks, in TAP:
#   - QEMU created the bridge (anon_inode:kvm-vfio among its fds);
#   - the VM's statistics (debugfs): vfio_files, vfio_noncoherent_files and
#     noncoherent_dma as the device's coherency says;
#   - the bridge's kvm_vfio_file tracepoint saw the add;
#   - QMP query-status answers;
#   - after "quit", the VM is gone and the device's group opens again (every
#     reference released: a group does not open while its device is bound
#     through a cdev either; with KEEP_GROUP set the caller checks it).
# Cases: the legacy group and container path (both QEMUs), coherent edu and
# a non-coherent mtty mdev; iommufd with VFIO device cdevs (QEMU 10): edu by
# host=, the mdev by sysfsdev=, and edu passed as pre-opened fds
# (-object iommufd,fd= and vfio-pci,fd=).  For the cdev cases the cdev must
# be added to the bridge before VFIO_DEVICE_BIND_IOMMUFD (QEMU's
# iommufd_cdev_kvm_device_add() runs first; a kprobe on the bind orders the
# two in the trace).
# Then QMP hot-plug and unplug of a coherent and a non-coherent device in
# one running VM, removed in either order, and a real guest's WBINVD
# (SeaBIOS) with a coherent and with a non-coherent device assigned.
Q72=/usr/bin/qemu-system-x86_64
Q10=/opt/qemu-10/bin/qemu-system-x86_64
TRACE=/sys/kernel/tracing
n=0
ok()   { n=$((n + 1)); echo "ok $n $*"; }
failed=0
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n $*"; }
skip() { n=$((n + 1)); echo "ok $n $* # SKIP $SKIP_WHY"; }
check() { what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }

if [ ! -x $Q72 ] || [ ! -x $Q10 ]; then
	echo "1..0 # SKIP $Q72 or $Q10 is not in the test VM's initramfs"
	exit 4
fi
echo "TAP version 13"
echo "# 7.2: $($Q72 --version | head -1)"
echo "# 10: $($Q10 --version | head -1)"

# wait_for SECONDS CMD...: poll until CMD succeeds.
wait_for() {
	t=$(($1 * 10)); shift
	while [ $t -gt 0 ]; do "$@" && return 0; sleep 0.1; t=$((t - 1)); done
	return 1
}

vm_dir() { ls -d /sys/kernel/debug/kvm/$1-* 2>/dev/null | head -1; }
has_bridge() { ls -l /proc/$1/fd 2>/dev/null | grep -q 'anon_inode:kvm-vfio'; }
stat_is() { [ "$(cat "$1/$2" 2>/dev/null)" = "$3" ]; }
group_opens() { (exec 3<>"$1") 2>/dev/null; }
vm_gone() { [ -n "$1" ] && [ ! -e "$1" ]; }
has_cdev() { [ -c /dev/iommu ] && [ -c "$1" ]; }
# Exited (a zombie counts: nothing of it holds files any more).
gone() {
	kill -0 "$1" 2>/dev/null || return 0
	[ "$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null)" = Z ]
}
# stop PID: wait up to 30 s for it to exit, then SIGKILL; reap it.
stop() { wait_for 30 gone $1 || kill -KILL $1 2>/dev/null; wait $1 2>/dev/null; }

# The bridge's file tracepoint and a kprobe on the cdev bind, one buffer.
trace_on() {
	[ -d $TRACE/events/kvm/kvm_vfio_file ] || return 1
	echo 0 >$TRACE/tracing_on
	echo >$TRACE/trace
	echo 'p:kvm_vfio_client/bind vfio_df_ioctl_bind_iommufd' >>$TRACE/kprobe_events 2>/dev/null
	echo 1 >$TRACE/events/kvm/kvm_vfio_file/enable
	[ ! -d $TRACE/events/kvm_vfio_client ] || echo 1 >$TRACE/events/kvm_vfio_client/enable
	echo 1 >$TRACE/tracing_on
}
has_bind_probe() { [ -d $TRACE/events/kvm_vfio_client ]; }
trace_off() {
	echo 0 >$TRACE/tracing_on
	echo 0 >$TRACE/events/kvm/kvm_vfio_file/enable
	[ ! -d $TRACE/events/kvm_vfio_client ] || echo 0 >$TRACE/events/kvm_vfio_client/enable
}
# The trace's event names in order, for one pid: "kvm_vfio_file bind ...".
trace_seq() {
	grep -E "[-]$1 .*(kvm_vfio_file|bind):" $TRACE/trace |
		sed -E 's/.* (kvm_vfio_file|bind): .*/\1/' | tr '\n' ' '
}
add_first() { case "$(trace_seq "$1")" in "kvm_vfio_file bind"*) return 0;; esac; return 1; }

# client_case NAME QEMU GROUP NONCOHERENT [CDEV] -- QEMU-ARGS...
# CDEV is set for the iommufd cases: the trace must show the add first.
client_case() {
	name=$1 ver=$2 group=$3 nc=$4 cdev=$5; shift 5
	[ "$1" = -- ] && shift
	SKIP_WHY=
	[ -n "$group" ] || SKIP_WHY="no $name VFIO device in this VM"
	[ -z "$cdev" ] || has_cdev "$cdev" || SKIP_WHY="no VFIO device cdev or /dev/iommu in this VM"
	if [ -n "$SKIP_WHY" ]; then
		skip "$name: QEMU $ver assigns the device"
		return
	fi
	if [ "$ver" = 10 ]; then q="$Q10 -L /opt/qemu-10/share"; else q=$Q72; fi
	sock=/tmp/qmp-$name.sock log=/tmp/qemu-$name.log
	rm -f $sock
	traced=no
	trace_on && traced=yes
	t0=$(cut -d' ' -f1 /proc/uptime)
	$q -accel kvm -machine q35 -cpu qemu64 -m 64 -nodefaults -display none -S \
		"$@" -qmp unix:$sock,server=on,wait=off >$log 2>&1 &
	pid=$!
	if ! wait_for 60 test -S $sock; then
		fail "$name: QEMU $ver starts with $*"
		sed 's/^/# qemu: /' $log
		kill -KILL $pid 2>/dev/null; wait $pid
		trace_off
		return
	fi
	ok "$name: QEMU $ver starts with $*"
	# QMP answers once every device is realized: the files are added.
	reply=$(qmp $sock query-status)
	echo "# $name: $reply"
	check "$name: QMP query-status answers (prelaunch)" \
		sh -c "echo '$reply' | grep -q '\"status\": \"prelaunch\"'"
	check "$name: QEMU holds the bridge (anon_inode:kvm-vfio)" has_bridge $pid
	dir=$(vm_dir $pid)
	echo "# $name: $dir: vfio_files=$(cat $dir/vfio_files) vfio_noncoherent_files=$(cat $dir/vfio_noncoherent_files) noncoherent_dma=$(cat $dir/noncoherent_dma)"
	check "$name: vfio_files is 1" stat_is "$dir" vfio_files 1
	check "$name: vfio_noncoherent_files is $nc" stat_is "$dir" vfio_noncoherent_files $nc
	check "$name: noncoherent_dma is $nc" stat_is "$dir" noncoherent_dma $nc
	if [ $traced = yes ]; then
		echo "# $name: trace: $(trace_seq $pid)"
		check "$name: kvm_vfio_file traced the add" \
			sh -c "grep -E -- '-$pid .*kvm_vfio_file: add' $TRACE/trace | grep -q ' 1 files'"
		if [ -n "$cdev" ] && has_bind_probe; then
			check "$name: $cdev added to the bridge before VFIO_DEVICE_BIND_IOMMUFD" \
				add_first $pid
		elif [ -n "$cdev" ]; then
			SKIP_WHY="no kprobe on vfio_df_ioctl_bind_iommufd"
			skip "$name: $cdev added to the bridge before VFIO_DEVICE_BIND_IOMMUFD"
		fi
	else
		SKIP_WHY="no kvm_vfio_file tracepoint"
		skip "$name: kvm_vfio_file traced the add"
	fi
	qmp $sock quit >/dev/null
	wait_for 30 gone $pid
	check "$name: QEMU $ver exits on quit" gone $pid
	stop $pid
	trace_off
	# With KEEP_GROUP the caller still holds the bound cdev, and with it
	# the VM: it checks both once it closed its fds.
	if [ -z "$KEEP_GROUP" ]; then
		check "$name: the VM and its bridge are gone" vm_gone "$dir"
		check "$name: $group opens again (references released)" group_opens "$group"
	fi
	sed -n 's/^/# qemu said: /p' $log
	echo "# $name: $(awk -v a=$t0 '{printf "%.1f", $1 - a}' /proc/uptime) s"
}

edu=$KVM_VFIO_COHERENT_PCI0
mdev=/sys/bus/mdev/devices/$KVM_VFIO_NONCOHERENT_MDEV0
for ver in 7.2 10; do
	client_case "group-coherent-$ver" $ver "$KVM_VFIO_COHERENT_GROUP0" 0 "" -- \
		-device vfio-pci,host=$edu
	client_case "group-noncoherent-$ver" $ver "$KVM_VFIO_NONCOHERENT_GROUP0" 1 "" -- \
		-device vfio-pci,sysfsdev=$mdev
done
client_case cdev-coherent 10 "$KVM_VFIO_COHERENT_GROUP0" 0 \
	"${KVM_VFIO_COHERENT_DEVICE0:-none}" -- \
	-object iommufd,id=ifd -device vfio-pci,host=$edu,iommufd=ifd
client_case cdev-noncoherent 10 "$KVM_VFIO_NONCOHERENT_GROUP0" 1 \
	"${KVM_VFIO_NONCOHERENT_DEVICE0:-none}" -- \
	-object iommufd,id=ifd -device vfio-pci,sysfsdev=$mdev,iommufd=ifd
# The pre-opened form (what a management layer such as libvirt passes):
# /dev/iommu and the cdev open in this shell as fds 5 and 6, QEMU inherits
# them.  The bind holds the VM and blocks the group until the last copy of
# the cdev's file is closed: both are checked after this shell closes its.
if [ -n "$KVM_VFIO_COHERENT_GROUP0" ] && has_cdev "$KVM_VFIO_COHERENT_DEVICE0"; then
	exec 5<>/dev/iommu 6<>"$KVM_VFIO_COHERENT_DEVICE0"
	KEEP_GROUP=1
	client_case cdev-fd 10 "$KVM_VFIO_COHERENT_GROUP0" 0 "$KVM_VFIO_COHERENT_DEVICE0" -- \
		-object iommufd,id=ifd,fd=5 -device vfio-pci,id=edu-fd,fd=6,iommufd=ifd
	KEEP_GROUP=
	check "cdev-fd: the cdev bound through fd 6 keeps $KVM_VFIO_COHERENT_GROUP0 busy" \
		sh -c "! (exec 3<>$KVM_VFIO_COHERENT_GROUP0) 2>/dev/null"
	exec 5<&- 6<&-
	wait_for 10 vm_gone "$dir"
	check "cdev-fd: the VM and its bridge are gone once this shell closed its fds" \
		vm_gone "$dir"
	check "cdev-fd: $KVM_VFIO_COHERENT_GROUP0 opens again" group_opens "$KVM_VFIO_COHERENT_GROUP0"
else
	SKIP_WHY="no coherent VFIO device cdev in this VM"
	skip "cdev-fd: QEMU 10 takes pre-opened iommufd and cdev fds"
fi

# Bad input from a client: the same device given twice.  QEMU refuses it
# and exits; the group must be usable again (whatever QEMU added to the
# bridge before it failed is released).
for ver in 7.2 10; do
	if [ -z "$KVM_VFIO_COHERENT_GROUP0" ]; then
		SKIP_WHY="no coherent VFIO device in this VM"
		skip "twice-$ver: QEMU $ver refuses a device given twice"
		continue
	fi
	if [ "$ver" = 10 ]; then q="$Q10 -L /opt/qemu-10/share"; else q=$Q72; fi
	$q -accel kvm -machine q35 -cpu qemu64 -m 64 -nodefaults -display none -S \
		-device vfio-pci,host=$edu -device vfio-pci,host=$edu >/tmp/qemu-twice.log 2>&1 &
	pid=$!
	rc=running
	if wait_for 60 gone $pid; then wait $pid; rc=$?; else stop $pid; fi
	sed -n 's/^/# qemu said: /p' /tmp/qemu-twice.log
	check "twice-$ver: QEMU $ver refuses a device given twice (exit $rc)" \
		sh -c "[ $rc != running ] && [ $rc != 0 ]"
	check "twice-$ver: $KVM_VFIO_COHERENT_GROUP0 opens again" group_opens "$KVM_VFIO_COHERENT_GROUP0"
done

# Hot-plug and unplug through QMP while the guest runs (SeaBIOS), one
# coherent and one non-coherent device into empty PCIe root ports (native
# hot-plug: an empty slot is powered off, so device_del completes without a
# guest driver), then removed in the order given.  The statistics follow
# each step and noncoherent_dma_edges counts exactly the 0->1 and 1->0
# transitions, the two points where KVM zaps for the policy.
# hotplug_case NAME QEMU FIRST(edu|mtty) [iommufd]
hotplug_case() {
	name=$1 ver=$2 first=$3 ifd=$4
	SKIP_WHY=
	[ -n "$KVM_VFIO_COHERENT_GROUP0" ] && [ -n "$KVM_VFIO_NONCOHERENT_GROUP0" ] ||
		SKIP_WHY="needs a coherent and a non-coherent VFIO device"
	[ -z "$ifd" ] || { has_cdev "$KVM_VFIO_COHERENT_DEVICE0" && has_cdev "$KVM_VFIO_NONCOHERENT_DEVICE0"; } ||
		SKIP_WHY="no VFIO device cdevs or /dev/iommu in this VM"
	if [ -n "$SKIP_WHY" ]; then
		skip "$name: QMP hot-plug"
		return
	fi
	if [ "$ver" = 10 ]; then q="$Q10 -L /opt/qemu-10/share"; else q=$Q72; fi
	sock=/tmp/qmp-$name.sock log=/tmp/qemu-$name.log
	rm -f $sock
	be= obj=
	[ -z "$ifd" ] || { be=', "iommufd": "ifd"'; obj="-object iommufd,id=ifd"; }
	$q -accel kvm -machine q35 -cpu qemu64 -m 64 -nodefaults -display none $obj \
		-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off \
		-device pcie-root-port,id=rp1,chassis=1,slot=1 \
		-device pcie-root-port,id=rp2,chassis=2,slot=2 \
		-qmp unix:$sock,server=on,wait=off >$log 2>&1 &
	pid=$!
	if ! wait_for 60 test -S $sock; then
		fail "$name: QEMU $ver starts with two empty root ports"
		sed 's/^/# qemu: /' $log
		kill -KILL $pid 2>/dev/null; wait $pid
		return
	fi
	# QMP answers once the machine (and its VM) exists.
	check "$name: the guest runs (query-status)" \
		sh -c "qmp $sock query-status | grep -q '\"status\": \"running\"'"
	dir=$(vm_dir $pid)
	e0=$(cat $dir/noncoherent_dma_edges) z0=$(cat $dir/guest_pat_zaps)
	# step WHAT QMP-JSON FILES NONCOHERENT EDGES
	step() {
		reply=$(qmp $sock "$2" 2>&1)
		wait_for 30 stat_is $dir vfio_files $3
		got="$(cat $dir/vfio_files) $(cat $dir/vfio_noncoherent_files) $(cat $dir/noncoherent_dma) $(($(cat $dir/noncoherent_dma_edges) - e0))"
		zaps=$(($(cat $dir/guest_pat_zaps) - z0))
		echo "# $name: $1: vfio_files vfio_noncoherent_files noncoherent_dma edges: $got, guest_pat_zaps +$zaps ($reply)"
		check "$name: $1: the statistics are $3 $4 $4 $5" [ "$got" = "$3 $4 $4 $5" ]
		# On AMD with NPT guest PAT always applies: no change zaps.
		[ "$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null)" != Y ] ||
			check "$name: $1: nothing zapped (AMD, NPT)" [ "$zaps" = 0 ]
	}
	add_edu="{\"execute\": \"device_add\", \"arguments\": {\"driver\": \"vfio-pci\", \"host\": \"$edu\", \"bus\": \"rp1\", \"id\": \"edu\"$be}}"
	add_mtty="{\"execute\": \"device_add\", \"arguments\": {\"driver\": \"vfio-pci\", \"sysfsdev\": \"$mdev\", \"bus\": \"rp2\", \"id\": \"mtty\"$be}}"
	del() { echo "{\"execute\": \"device_del\", \"arguments\": {\"id\": \"$1\"}}"; }
	step "device_add edu" "$add_edu" 1 0 0
	step "device_add mtty" "$add_mtty" 2 1 1
	if [ "$first" = mtty ]; then
		step "device_del mtty" "$(del mtty)" 1 0 2
		step "device_del edu" "$(del edu)" 0 0 2
	else
		step "device_del edu" "$(del edu)" 1 1 1
		step "device_del mtty" "$(del mtty)" 0 0 2
	fi
	qmp $sock quit >/dev/null
	wait_for 30 gone $pid
	check "$name: QEMU $ver exits on quit" gone $pid
	stop $pid
	check "$name: the VM is gone" vm_gone "$dir"
	check "$name: both groups open again" \
		sh -c "(exec 3<>$KVM_VFIO_COHERENT_GROUP0 4<>$KVM_VFIO_NONCOHERENT_GROUP0) 2>/dev/null"
}
hotplug_case hotplug-7.2 7.2 mtty
hotplug_case hotplug-10 10 edu
hotplug_case hotplug-cdev 10 mtty iommufd

# A real guest's WBINVD: SeaBIOS executes it before the boot menu, when it
# makes its shadowed ROM area read-only.
# Boot it to "No bootable device" with one device assigned and read the
# vCPU's statistics while QEMU still runs: WBINVD exits in both cases,
# flushes (of at least one CPU each) only with the non-coherent device.
# seabios_case NAME GROUP NONCOHERENT QEMU-DEVICE-ARG
seabios_case() {
	name=$1 group=$2 nc=$3 dev=$4
	if [ -z "$group" ]; then
		SKIP_WHY="no $name VFIO device in this VM"
		skip "seabios-$name: SeaBIOS boots with the device assigned"
		return
	fi
	blog=/tmp/seabios-$name.log
	rm -f $blog
	t0=$(cut -d' ' -f1 /proc/uptime)
	$Q72 -accel kvm -machine q35 -cpu qemu64 -m 64 -nodefaults -display none \
		-device "$dev" -chardev file,id=bios,path=$blog \
		-device isa-debugcon,iobase=0x402,chardev=bios >/tmp/qemu-$name-boot.log 2>&1 &
	pid=$!
	wait_for 100 grep -qs 'No bootable device' $blog
	check "seabios-$name: SeaBIOS reaches 'No bootable device'" \
		grep -qs 'No bootable device' $blog
	v=$(vm_dir $pid)	# vCPU statistics, summed over its one vCPU
	exits=$(cat $v/wbinvd_exits 2>/dev/null) flushes=$(cat $v/wbinvd_flushes 2>/dev/null)
	cpus=$(cat $v/wbinvd_cpus_flushed 2>/dev/null)
	echo "# seabios-$name: $v: wbinvd_exits=$exits wbinvd_flushes=$flushes wbinvd_cpus_flushed=$cpus"
	check "seabios-$name: SeaBIOS's WBINVDs exit to KVM" [ "${exits:-0}" -gt 0 ]
	if [ "$nc" = 1 ]; then
		check "seabios-$name: every WBINVD flushes (non-coherent DMA)" [ "${flushes:--1}" = "$exits" ]
		check "seabios-$name: each flush reaches at least one CPU" \
			[ "${cpus:-0}" -ge "${flushes:-1}" ]
	else
		check "seabios-$name: no WBINVD flushes (coherent DMA only)" [ "${flushes:--1}" = 0 ]
		check "seabios-$name: no CPU flushed" [ "${cpus:--1}" = 0 ]
	fi
	echo "# seabios-$name: $(awk -v a=$t0 '{printf "%.1f", $1 - a}' /proc/uptime) s"
	kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null
	wait_for 10 group_opens "$group"
	check "seabios-$name: $group opens again after QEMU is SIGKILLed" group_opens "$group"
}
seabios_case coherent "$KVM_VFIO_COHERENT_GROUP0" 0 vfio-pci,host=$edu
seabios_case noncoherent "$KVM_VFIO_NONCOHERENT_GROUP0" 1 vfio-pci,sysfsdev=$mdev
echo "1..$n"
[ $failed = 0 ]
