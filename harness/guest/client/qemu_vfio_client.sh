#!/bin/sh
# Debian's QEMU as a client of the KVM-VFIO bridge, inside the test VM.
#
# For a coherent group (edu behind intel-iommu with snoop control) and a
# non-coherent one (an mtty mdev), start qemu-system-x86_64 -accel kvm -S
# with the device assigned and check, in TAP:
#   - QEMU created the bridge (anon_inode:kvm-vfio among its fds);
#   - the VM's statistics (debugfs) show one file, non-coherent as expected;
#   - QMP query-status answers;
#   - after "quit", the VM is gone and the group opens again (every
#     reference released).
# Then run a tiny guest (SeaBIOS to "No bootable device") with edu assigned.
QEMU=/usr/bin/qemu-system-x86_64
n=0
ok()   { n=$((n + 1)); echo "ok $n $*"; }
fail() { n=$((n + 1)); echo "not ok $n $*"; }
skip() { n=$((n + 1)); echo "ok $n $* # SKIP $SKIP_WHY"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }

if [ ! -x $QEMU ]; then
	echo "1..0 # SKIP $QEMU is not in the test VM's initramfs"
	exit 4
fi
echo "TAP version 13"
echo "# $($QEMU --version | head -1)"

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

# client_case NAME GROUP NONCOHERENT QEMU-DEVICE-ARG
client_case() {
	name=$1 group=$2 nc=$3 dev=$4
	if [ -z "$group" ]; then
		SKIP_WHY="no $name VFIO group in this VM"
		skip "$name: QEMU assigns the device"
		return
	fi
	sock=/tmp/qmp-$name.sock log=/tmp/qemu-$name.log
	t0=$(cut -d' ' -f1 /proc/uptime)
	$QEMU -accel kvm -machine q35 -cpu qemu64 -m 64 -nodefaults -display none -S \
		-device "$dev" -qmp unix:$sock,server=on,wait=off >$log 2>&1 &
	pid=$!
	if ! wait_for 60 test -S $sock; then
		fail "$name: QEMU starts with $dev"
		sed 's/^/# qemu: /' $log
		kill $pid 2>/dev/null; wait $pid
		return
	fi
	ok "$name: QEMU starts with $dev"
	wait_for 10 has_bridge $pid
	check "$name: QEMU holds the bridge (anon_inode:kvm-vfio)" has_bridge $pid
	dir=$(vm_dir $pid)
	echo "# $name: $dir: vfio_files=$(cat $dir/vfio_files) vfio_noncoherent_files=$(cat $dir/vfio_noncoherent_files)"
	check "$name: vfio_files is 1" stat_is "$dir" vfio_files 1
	check "$name: vfio_noncoherent_files is $nc" stat_is "$dir" vfio_noncoherent_files $nc
	reply=$(qmp $sock query-status)
	echo "# $name: $reply"
	check "$name: QMP query-status answers (prelaunch)" \
		sh -c "echo '$reply' | grep -q '\"status\": \"prelaunch\"'"
	qmp $sock quit >/dev/null
	wait_for 30 sh -c "! kill -0 $pid 2>/dev/null"
	check "$name: QEMU exits on quit" sh -c "! kill -0 $pid 2>/dev/null"
	wait $pid 2>/dev/null
	check "$name: the VM and its bridge are gone" sh -c "[ -z \"\$(ls -d $dir 2>/dev/null)\" ]"
	check "$name: $group opens again (references released)" group_opens "$group"
	sed -n 's/^/# qemu said: /p' $log
	echo "# $name: $(awk -v a=$t0 '{printf "%.1f", $1 - a}' /proc/uptime) s"
}

client_case coherent "$KVM_VFIO_COHERENT_GROUP0" 0 "vfio-pci,host=$KVM_VFIO_COHERENT_PCI0"
client_case noncoherent "$KVM_VFIO_NONCOHERENT_GROUP0" 1 \
	"vfio-pci,sysfsdev=/sys/bus/mdev/devices/$KVM_VFIO_NONCOHERENT_MDEV0"

# A tiny guest with the coherent device assigned: SeaBIOS boots to its end.
if [ -n "$KVM_VFIO_COHERENT_PCI0" ]; then
	t0=$(cut -d' ' -f1 /proc/uptime)
	$QEMU -accel kvm -machine q35 -cpu qemu64 -m 64 -nodefaults -display none \
		-device vfio-pci,host=$KVM_VFIO_COHERENT_PCI0 \
		-chardev file,id=bios,path=/tmp/seabios.log \
		-device isa-debugcon,iobase=0x402,chardev=bios >/tmp/qemu-boot.log 2>&1 &
	pid=$!
	wait_for 100 grep -q 'No bootable device' /tmp/seabios.log
	check "guest: SeaBIOS reaches 'No bootable device' with edu assigned" \
		grep -q 'No bootable device' /tmp/seabios.log
	echo "# guest: $(awk -v a=$t0 '{printf "%.1f", $1 - a}' /proc/uptime) s"
	kill $pid 2>/dev/null; wait $pid 2>/dev/null
	wait_for 10 group_opens "$KVM_VFIO_COHERENT_GROUP0"
	check "guest: $KVM_VFIO_COHERENT_GROUP0 opens again after QEMU is killed" \
		group_opens "$KVM_VFIO_COHERENT_GROUP0"
else
	SKIP_WHY="no coherent VFIO device in this VM"
	skip "guest: SeaBIOS boots with a device assigned"
fi
echo "1..$n"
