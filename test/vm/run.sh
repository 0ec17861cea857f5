#!/usr/bin/env bash
# nettune's real-kernel end-to-end tests: boots a stock Debian kernel under
# QEMU with two emulated Intel NICs (e1000, e1000e) on an internal hub, with
# and without an emulated IOMMU, and, when this QEMU has the igb device
# (QEMU 10 from bookworm-backports), a third guest with a multi-queue igb, a
# multi-queue virtio-net, a two-function IOMMU group and a mounted disk. It
# runs the guest scenarios of test/vm/guest against the freshly built
# nettune and reports each scenario as PASS, FAIL or SKIP, and which QEMU it
# used. docs/e2e-vm.md explains the design; `make e2e-vm` runs it.
#
# Needs root (the host's / is exported read-only to the guest over 9p) and
# the packages of scripts/deps.sh. Never touches the host's network: the
# guest NICs sit on QEMU hubs with no host device, and the virtio-net's tap
# lives in a network namespace of its own (MQ_NETNS).
#
# Environment:
#   NETTUNE_BIN         nettune binary to test (default: built from this checkout)
#   E2E_VM_CACHE        cache for the kernel (default /var/cache/nettune-e2e)
#   E2E_VM_SCENARIOS    scenarios to run, e.g. "s1 s3" (default: all)
#   E2E_VM_ACCEL        auto (default: KVM only when the CPU has vmx/svm), tcg or kvm
#   E2E_VM_TIMEOUT      seconds one boot may take (default 900)
#   E2E_VM_REQUIRE_ALL  1: a skipped scenario fails the run
#   E2E_VM_KEEP         1: keep the job directory (kept anyway when a scenario fails)
#
# Exit status: the guest scripts' (0 when no scenario failed, 1 when one
# did); 3 when the harness itself could not run a guest.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
VM=$REPO/test/vm
E2E_CACHE=${E2E_VM_CACHE:-/var/cache/nettune-e2e}
TIMEOUT=${E2E_VM_TIMEOUT:-900}
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin

# The guest's hardware. The profiles in test/vm/profiles name these PCI
# addresses; scenario 4's profile isolates CPU 1 of the 2 and reserves 64
# pages at boot. Boots iommu and noiommu have two single-queue Intel NICs;
# boot mq has its own (nics_mq).
NICS=(0000:00:04.0 0000:00:05.0)
NIC_MODELS=(e1000 e1000e)
NIC_DRIVERS=(e1000 e1000e)
NIC_IDS=(0x8086:0x100e 0x8086:0x10d3)
NIC_MACS=(52:54:00:e2:e0:01 52:54:00:e2:e0:02)
SMP=2
# Boot mq (QEMU with the igb device only): an igb (82576, MSI-X, 8 queue
# pairs, RSS) on hub 0; a virtio-net with 4 queue pairs on a multi-queue tap
# in a network namespace of its own; two e1000 functions of one
# multifunction slot, which share an IOMMU group, on hub 1; and a small
# virtio-blk disk the guest mounts (a block device the bind guard must
# refuse). The virtio-net's PCI driver is virtio-pci; its module is virtio_net.
MQ_NICS=(0000:00:04.0 0000:00:05.0 0000:00:08.0 0000:00:08.1)
MQ_NIC_DRIVERS=(igb virtio-pci e1000 e1000)
MQ_NIC_MODULES=(igb virtio_net e1000 e1000)
MQ_NIC_IDS=(0x8086:0x10c9 0x1af4:0x1000 0x8086:0x100e 0x8086:0x100e)
MQ_VIRTIO_QUEUES=4
MQ_DISK=0000:00:09.0
MQ_NETNS=nettune-e2e-mq
MEM=2048
ISOLATED=1
BOOT_HUGEPAGES=64

# Which scenarios run in which boot, in order. s0 checks the guest itself.
BOOT_IOMMU=(s0-guest s4-bootargs s1-devices s12-speed s2-guard s6-cycles s3-dpdk)
BOOT_NOIOMMU=(s0-guest s5-noiommu)
# Boot mq, only with a QEMU that has the igb device (QEMU 10 from
# bookworm-backports; scripts/deps.sh installs it).
BOOT_MQ=(s0-guest s7-boot-drift s8-queues s9-steering s10-bind-edges s11-coalesce s14-sriov)
# The systemd boots: systemd as init and udev running, the root's upper
# layer on a disk that persists from sd1 to sd2 (a power cycle in between).
BOOT_SD1=(s13-install)
BOOT_SD2=(s13-boot)
SD_TIMEOUT=${E2E_VM_SD_TIMEOUT:-360}
# Benchmarks, not tests: run only when E2E_VM_SCENARIOS names them
# (s12-speed: nettune devices against dpdk-devbind.py in the guest).
OPT_IN=(s12-speed)
# s16-ansible (boots fleet1 and fleet2, ansible.sh): 10+ minutes under TCG,
# over the CI budget; run it with E2E_VM_SCENARIOS=s16.
OPT_IN+=(s16-ansible)

log() { printf 'e2e-vm: %s\n' "$*" >&2; }
die() {
	printf 'e2e-vm: error: %s\n' "$*" >&2
	exit 3
}

# shellcheck source=kernel.sh
. "$VM/kernel.sh"
# shellcheck source=ansible.sh
. "$VM/ansible.sh"

preflight() {
	[ "$(id -u)" -eq 0 ] || die "run as root: the guest's root is the host's / exported over 9p"
	local t missing=()
	for t in qemu-system-x86_64 cpio depmod modprobe dpkg-deb apt-get xz timeout flock ip mkfs.ext4; do
		command -v "$t" >/dev/null || missing+=("$t")
	done
	[ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: run scripts/deps.sh"
	[ -x /bin/busybox ] || die "missing /bin/busybox: run scripts/deps.sh (busybox-static)"
	if ldd /bin/busybox >/dev/null 2>&1; then
		die "/bin/busybox is dynamically linked: install busybox-static"
	fi
}

# accel prints the QEMU acceleration arguments. KVM only when the CPU
# really has vmx/svm: a /dev/kvm without them (a paravirtual KVM) runs a
# stock guest kernel about 1000 times slower than TCG.
accel() {
	local mode=${E2E_VM_ACCEL:-auto}
	if [ "$mode" = auto ]; then
		mode=tcg
		if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then
			mode=kvm
		fi
	fi
	case $mode in
	kvm) echo "-accel kvm -cpu host" ;;
	# -cpu max: the default qemu64 has no SSE4.2 and DPDK dies with SIGILL.
	tcg) echo "-accel tcg,thread=multi,tb-size=512 -cpu max" ;;
	*) die "E2E_VM_ACCEL=$mode: want auto, tcg or kvm" ;;
	esac
}

# qemu_detect: sets QEMU_VERSION and HAS_IGB (1 when this QEMU emulates the
# igb device, an Intel 82576; QEMU 7.2 does not).
qemu_detect() {
	QEMU_VERSION=$(qemu-system-x86_64 --version | sed -n '1s/^QEMU emulator version //p')
	HAS_IGB=0
	if qemu-system-x86_64 -device help 2>/dev/null | grep -q '"igb"'; then
		HAS_IGB=1
	fi
}

wanted() {
	local s
	if [ -z "${E2E_VM_SCENARIOS:-}" ]; then
		for s in "${OPT_IN[@]}"; do
			[ "$1" = "$s" ] && return 1
		done
		return 0
	fi
	for s in $E2E_VM_SCENARIOS; do
		[ "$1" = "$s" ] || [ "${1%%-*}" = "$s" ] && return 0
	done
	return 1
}

# build_binaries: nettune and nettune-forwarder (as make build) and
# vmcheck, into the job directory the guest mounts.
build_binaries() {
	mkdir -p "$JOB/bin"
	if [ -n "${NETTUNE_BIN:-}" ]; then
		cp "$NETTUNE_BIN" "$JOB/bin/nettune"
	else
		log "building nettune"
		(cd "$REPO" && CGO_ENABLED=0 go build -o "$JOB/bin/nettune" ./cmd/nettune) || die "go build ./cmd/nettune failed"
	fi
	# nettune run looks for the forwarder next to the nettune binary: take
	# the one built beside NETTUNE_BIN (make build), else build it.
	local fwd
	fwd=$(dirname "${NETTUNE_BIN:-/nonexistent/x}")/nettune-forwarder
	if [ -n "${NETTUNE_BIN:-}" ] && [ -x "$fwd" ]; then
		cp "$fwd" "$JOB/bin/nettune-forwarder"
	else
		log "building nettune-forwarder"
		(cd "$REPO" && go build -o "$JOB/bin/nettune-forwarder" ./cmd/nettune-forwarder) || die "go build ./cmd/nettune-forwarder failed"
	fi
	(cd "$REPO" && CGO_ENABLED=0 go build -o "$JOB/bin/vmcheck" ./test/vm/vmcheck) || die "go build ./test/vm/vmcheck failed"
}

# build_initramfs OUT [MODULE...]: busybox, the modules that reach the host
# root (virtio-pci, 9p, overlay, and MODULE...) and test/vm/initramfs/init.
# Uncompressed: under TCG decompressing costs more than reading.
build_initramfs() {
	local out=$1 stage m f
	shift
	stage=$JOB/initramfs
	rm -rf "$stage"
	mkdir -p "$stage/bin" "$stage/dev" "$stage/modules"
	cp /bin/busybox "$stage/bin/busybox"
	mknod "$stage/dev/console" c 5 1
	mknod "$stage/dev/null" c 1 3
	: >"$stage/modules/order"
	for m in virtio_pci 9pnet_virtio 9p overlay "$@"; do
		modprobe --show-depends -d "$KERNEL_DIR" -S "$KVER" "$m" >"$JOB/deps.$m" ||
			die "the guest kernel $KVER has no module $m"
		awk '$1 == "insmod" {print $2}' "$JOB/deps.$m"
		rm -f "$JOB/deps.$m"
	done | awk '!seen[$0]++' | while read -r f; do
		cp "$f" "$stage/modules/"
		basename "$f" >>"$stage/modules/order"
	done
	[ -s "$stage/modules/order" ] || die "no initramfs modules found in $KERNEL_DIR"
	cp "$VM/initramfs/init" "$stage/init"
	chmod 755 "$stage/init"
	printf 'KVER=%s\nMODULES_HOST=%s\n' "$KVER" "$MODULES_DIR" >"$stage/e2e.conf"
	(cd "$stage" && find . | cpio -o -H newc --quiet) >"$out"
}

# write_job_files: what the guest reads from /job besides the binaries.
write_job_files() {
	mkdir -p "$JOB/boots" "$JOB/results" "$JOB/s4"
	cp -r "$VM/guest" "$JOB/guest"
	cp -r "$VM/profiles" "$JOB/profiles"
	{
		echo "NICS=(${NICS[*]})"
		echo "NIC_DRIVERS=(${NIC_DRIVERS[*]})"
		echo "NIC_IDS=(${NIC_IDS[*]})"
		echo "ISOLATED=$ISOLATED"
		echo "BOOT_HUGEPAGES=$BOOT_HUGEPAGES"
		echo "SCENARIO_TIMEOUT=${E2E_VM_SCENARIO_TIMEOUT:-420}"
	} >"$JOB/e2e.env"
}

# cpu_boot_args [DIR PROFILE]: scenario 4's host half (and scenario 7's,
# with its own DIR and PROFILE). Applies PROFILE (default
# profiles/cpu-isolated.yaml) to a snapshot of this host (2 or more CPUs,
# like the guest) to which a Debian GRUB layout is added, and reads back
# the kernel arguments nettune put into the GRUB configuration, the way
# grub-mkconfig reads it. The guest is booted with them. Outcome in DIR
# (default $JOB/s4): cmdline, or skip / fail with the reason.
cpu_boot_args() {
	local dir=${1:-$JOB/s4} profile=${2:-$VM/profiles/cpu-isolated.yaml}
	local nt=$JOB/bin/nettune root err args
	root=$dir/root
	mkdir -p "$dir"
	if ! "$nt" snapshot "$root" >"$dir/snapshot.out" 2>&1; then
		echo "nettune snapshot failed: $(tail -n1 "$dir/snapshot.out")" >"$dir/fail"
		return
	fi
	mkdir -p "$root/etc/default" "$root/boot/grub"
	printf '%s\n' 'GRUB_DEFAULT=0' 'GRUB_TIMEOUT=5' 'GRUB_DISTRIBUTOR=Debian' \
		'GRUB_CMDLINE_LINUX_DEFAULT="quiet"' 'GRUB_CMDLINE_LINUX=""' >"$root/etc/default/grub"
	printf '%s\n' '# minimal grub.cfg for the e2e snapshot root' >"$root/boot/grub/grub.cfg"
	if ! "$nt" apply --root "$root" --yes -o json "$profile" >"$dir/apply.json" 2>"$dir/apply.err"; then
		# With -o json the problems are in the document, else on stderr.
		err=$(grep -ho 'module [a-z]* not implemented yet' "$dir/apply.json" "$dir/apply.err" | head -n1 || true)
		if [ -n "$err" ]; then
			echo "$err" >"$dir/skip"
		else
			echo "nettune apply --root of $(basename "$profile") on a snapshot failed: $(tail -n1 "$dir/apply.err")" >"$dir/fail"
		fi
		return
	fi
	# shellcheck disable=SC2016
	args=$(bash -c 'set -e; . "$1/etc/default/grub"
		for f in "$1"/etc/default/grub.d/*.cfg; do [ -e "$f" ] && . "$f"; done
		echo "${GRUB_CMDLINE_LINUX:-} ${GRUB_CMDLINE_LINUX_DEFAULT:-}"' _ "$root") || {
		echo "the GRUB configuration nettune wrote does not parse as shell" >"$dir/fail"
		return
	}
	# shellcheck disable=SC2086 # split the command line into arguments
	args=$(printf '%s\n' $args | { grep -vx quiet || true; } | tr '\n' ' ' | sed 's/ $//')
	if [ -z "$args" ]; then
		echo "nettune apply of $(basename "$profile") put no kernel argument into the GRUB configuration" >"$dir/fail"
		return
	fi
	echo "$args" >"$dir/cmdline"
	log "$(basename "$dir"): kernel arguments from nettune: $args"
}

# qemu_args NAME IOMMU(0|1) EXTRA_CMDLINE: sets QEMU_ARGS, the QEMU command
# line of a boot.
qemu_args() {
	local name=$1 iommu=$2 extra=$3 i cmdline
	cmdline="console=ttyS0 loglevel=4 panic=-1 init_on_alloc=0 mitigations=off tsc=reliable e2e_boot=$name"
	# -nodefaults: no default NIC (which would be user-mode networking), no
	# VGA, no monitor.
	QEMU_ARGS=(-name "nettune-e2e-$name" -nodefaults -no-reboot -display none -monitor none)
	read -r -a i <<<"$(accel)"
	QEMU_ARGS+=("${i[@]}")
	if [ "$iommu" = 1 ]; then
		# The IOMMU must come before the devices it translates for.
		# shellcheck disable=SC2054 # commas separate QEMU options
		QEMU_ARGS+=(-machine q35,kernel-irqchip=split -device intel-iommu,intremap=on,caching-mode=on)
		cmdline+=" intel_iommu=on iommu=pt"
	else
		QEMU_ARGS+=(-machine q35)
	fi
	# Arguments nettune produced (scenario 4) that are not there yet.
	for i in $extra; do
		case " $cmdline " in *" $i "*) ;; *) cmdline+=" $i" ;; esac
	done
	# shellcheck disable=SC2054 # commas separate QEMU options
	QEMU_ARGS+=(-smp "$SMP" -m "$MEM"
		-kernel "$VMLINUX" -initrd "${INITRD:-$JOB/initramfs.cpio}" -append "$cmdline"
		-serial "file:$JOB/$name.console.log"
		-fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap"
		-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot,addr=0x6
		-fsdev "local,id=job,path=$JOB,security_model=none,multidevs=remap"
		-device virtio-9p-pci,fsdev=job,mount_tag=job,addr=0x7)
	QEMU_WRAP=()
	if [ "$name" = mq ]; then
		mq_devices
		return
	fi
	# The NICs have no option ROM (romfile=) and sit on hub 0 with no host
	# device: they only see each other.
	for i in "${!NICS[@]}"; do
		QEMU_ARGS+=(-netdev "hubport,id=nic$i,hubid=0"
			-device "${NIC_MODELS[$i]},netdev=nic$i,mac=${NIC_MACS[$i]},romfile=,addr=0x${NICS[$i]:8:2}")
	done
}

# mq_devices: the devices of boot mq (see MQ_NICS), appended to QEMU_ARGS.
# QEMU runs in the network namespace $MQ_NETNS, which holds the host end of
# the virtio-net, a multi-queue tap: the host's own network is never part
# of it.
mq_devices() {
	# shellcheck disable=SC2054 # commas separate QEMU options
	QEMU_ARGS+=(
		# SR-IOV VFs of the igb only get their BARs mapped right with a
		# 64-bit PCI hole of size 0 (nested-vm.md).
		-global q35-pcihost.pci-hole64-size=0
		-netdev hubport,id=nic0,hubid=0
		-device "igb,netdev=nic0,mac=52:54:00:e2:e1:01,romfile=,addr=0x4"
		-netdev "tap,id=nic1,ifname=nte2e0,script=no,downscript=no,vhost=off,queues=$MQ_VIRTIO_QUEUES"
		-device "virtio-net-pci,netdev=nic1,mq=on,vectors=$((2 * MQ_VIRTIO_QUEUES + 2)),mac=52:54:00:e2:e1:02,romfile=,addr=0x5"
		-netdev hubport,id=nic2,hubid=1
		-device "e1000,netdev=nic2,mac=52:54:00:e2:e1:03,romfile=,addr=0x8.0,multifunction=on"
		-netdev hubport,id=nic3,hubid=1
		-device "e1000,netdev=nic3,mac=52:54:00:e2:e1:04,romfile=,addr=0x8.1"
		-drive "file=$JOB/mq-disk.img,if=none,id=disk0,format=raw"
		-device "virtio-blk-pci,drive=disk0,addr=0x9"
	)
	QEMU_WRAP=(ip netns exec "$MQ_NETNS")
}

# mq_setup: the network namespace with the multi-queue tap, and the disk
# image (ext4) of boot mq.
mq_setup() {
	mq_cleanup
	ip netns add "$MQ_NETNS" || die "ip netns add $MQ_NETNS failed"
	ip -n "$MQ_NETNS" tuntap add dev nte2e0 mode tap multi_queue ||
		die "cannot create the multi-queue tap nte2e0 in $MQ_NETNS"
	ip -n "$MQ_NETNS" link set nte2e0 up
	truncate -s 32M "$JOB/mq-disk.img"
	mkfs.ext4 -q -F -L e2e-root "$JOB/mq-disk.img" || die "mkfs.ext4 of the mq disk image failed"
}

mq_cleanup() {
	if ip netns list 2>/dev/null | grep -qw "$MQ_NETNS"; then
		ip netns del "$MQ_NETNS" 2>/dev/null || true
	fi
}

# boot NAME IOMMU EXTRA_CMDLINE SCENARIO...: runs the scenarios in one
# guest, retrying once when the guest dies before its script starts.
# Returns the guest script's exit status, 3 when no guest got that far.
boot() {
	local name=$1 iommu=$2 extra=$3 attempt rc start res
	shift 3
	printf '%s\n' "$@" >"$JOB/boots/$name"
	{
		echo "IOMMU=$iommu"
		printf '%s\n' "${BOOT_ENV[@]}"
	} >"$JOB/boots/$name.env"
	res=$JOB/results/$name
	qemu_args "$name" "$iommu" "$extra"
	printf '%q ' "${QEMU_WRAP[@]}" qemu-system-x86_64 "${QEMU_ARGS[@]}" >"$JOB/$name.qemu.cmd"
	for attempt in 1 2; do
		rm -rf "$res"
		mkdir -p "$res"
		log "boot $name (attempt $attempt): $*"
		start=$(date +%s)
		rc=0
		timeout -k 10 "$TIMEOUT" "${QEMU_WRAP[@]}" qemu-system-x86_64 "${QEMU_ARGS[@]}" >"$JOB/$name.qemu.log" 2>&1 || rc=$?
		log "boot $name: QEMU exited $rc after $(($(date +%s) - start)) s"
		if [ -e "$res/started" ]; then
			log "boot $name: the guest reached its script $(($(cat "$res/started") - start)) s after QEMU started"
			break
		fi
		log "boot $name: the guest died before its script started; console:"
		tail -n 30 "$JOB/$name.console.log" >&2 2>/dev/null || true
		grep -v "TCG doesn't support requested feature" "$JOB/$name.qemu.log" | tail -n 10 >&2 || true
		if [ "$attempt" = 2 ]; then
			return 3
		fi
	done
	if [ ! -e "$res/exit" ]; then
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			log "boot $name: timed out after $TIMEOUT s; console:"
		else
			log "boot $name: the guest script did not finish (QEMU exit $rc); console:"
		fi
		tail -n 40 "$JOB/$name.console.log" >&2 || true
		return 1
	fi
	return "$(cat "$res/exit")"
}

# sd_boot NAME SCENARIO...: one systemd boot (boots sd1, sd2) on the
# persistent disk $JOB/sd-disk.img, with an empty PCIe root port and the
# QEMU monitor on a pipe: when the guest writes results/NAME/hotplug.request,
# an e1000e is hot-added behind the root port (0000:01:00.0). Returns the
# guest script's exit status, 1 when it did not finish, 3 when the guest
# never reached it.
sd_boot() {
	local name=$1 rc=0 res=$JOB/results/$1 start qpid catpid
	shift
	printf '%s\n' "$@" >"$JOB/boots/$name"
	echo "IOMMU=1" >"$JOB/boots/$name.env"
	rm -rf "$res"
	mkdir -p "$res"
	# The initramfs masks the units that do not fit this guest.
	INITRD=$JOB/initramfs-sd.cpio qemu_args "$name" 1 \
		"e2e_init=systemd e2e_upper=/dev/vda fstab=no net.ifnames=0 systemd.unit=nettune-e2e.target systemd.show_status=0"
	# shellcheck disable=SC2054 # commas separate QEMU options
	QEMU_ARGS+=(-drive "file=$JOB/sd-disk.img,if=none,id=sdisk,format=raw"
		-device virtio-blk-pci,drive=sdisk,addr=0x9
		-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1,addr=0x10
		-chardev "pipe,id=mon0,path=$JOB/$name.mon" -mon chardev=mon0,mode=readline)
	rm -f "$JOB/$name.mon.in" "$JOB/$name.mon.out"
	mkfifo "$JOB/$name.mon.in" "$JOB/$name.mon.out"
	printf '%q ' qemu-system-x86_64 "${QEMU_ARGS[@]}" >"$JOB/$name.qemu.cmd"
	# Like boot(): one retry when the kernel dies before the initramfs
	# has finished (it has not touched the disk then).
	local attempt
	for attempt in 1 2; do
		rc=0
		log "boot $name (systemd, attempt $attempt): $*"
		start=$(date +%s)
		timeout -k 10 "$SD_TIMEOUT" qemu-system-x86_64 "${QEMU_ARGS[@]}" >"$JOB/$name.qemu.log" 2>&1 &
		qpid=$!
		cat "$JOB/$name.mon.out" >"$JOB/$name.mon.log" &
		catpid=$!
		while kill -0 "$qpid" 2>/dev/null; do
			if [ -e "$res/hotplug.request" ] && [ ! -e "$res/hotplug.done" ]; then
				log "boot $name: hot-adding an e1000e behind the root port"
				printf '%s\n' "netdev_add hubport,id=hp9,hubid=0" \
					"device_add e1000e,id=nic9,netdev=hp9,mac=52:54:00:e2:e0:09,romfile=,bus=rp1" >"$JOB/$name.mon.in"
				date +%s >"$res/hotplug.done"
			fi
			sleep 1
	done
	wait "$qpid" || rc=$?
	kill "$catpid" 2>/dev/null || true
	log "boot $name: QEMU exited $rc after $(($(date +%s) - start)) s"
	[ -e "$res/started" ] && break
	log "boot $name: the guest died before its initramfs finished; console:"
	tail -n 30 "$JOB/$name.console.log" >&2 || true
	[ "$attempt" = 2 ] && return 3
	done
	if [ ! -e "$res/exit" ]; then
		log "boot $name: the guest script did not finish (QEMU exit $rc); console:"
		tail -n 40 "$JOB/$name.console.log" >&2 || true
		return 1
	fi
	return "$(cat "$res/exit")"
}

# sd_boots: boot sd1 (install), then, on the same disk, boot sd2.
sd_boots() {
	local rc=0
	truncate -s 512M "$JOB/sd-disk.img"
	mkfs.ext4 -q -F -L e2e-upper "$JOB/sd-disk.img" || die "mkfs.ext4 of the systemd boots' disk failed"
	build_initramfs "$JOB/initramfs-sd.cpio" virtio_blk ext4
	RAN_BOOTS+=(sd1)
	sd_boot sd1 "${BOOT_SD1[@]}" || rc=$?
	if [ "$rc" != 0 ]; then
		for s in "${BOOT_SD2[@]}"; do
			HOST_SKIPS+=("$s|SKIP boot sd1 (nettune install) did not pass")
		done
		return "$rc"
	fi
	RAN_BOOTS+=(sd2)
	sd_boot sd2 "${BOOT_SD2[@]}"
}

# report: one line per scenario (and part), then the totals.
report() {
	local name s f r secs pass=0 failn=0 skipn=0
	echo
	echo "e2e-vm results (job directory $JOB):"
	for name in "${RAN_BOOTS[@]}"; do
		for s in $(cat "$JOB/boots/$name"); do
			for f in "$JOB/results/$name/$s.result" "$JOB/results/$name/$s"-*.result; do
				[ -e "$f" ] || continue
				r=$(cat "$f")
				secs=""
				[ -e "${f%.result}.secs" ] && secs=" ($(cat "${f%.result}.secs") s)"
				printf '  %-8s %-16s %s%s\n' "$name" "$(basename "$f" .result)" "$r" "$secs"
				case $r in
				PASS*) pass=$((pass + 1)) ;;
				SKIP*) skipn=$((skipn + 1)) ;;
				*) failn=$((failn + 1)) ;;
				esac
			done
			if [ ! -e "$JOB/results/$name/$s.result" ]; then
				if [ -e "$JOB/results/$name/$s.log" ]; then
					r="FAIL did not finish: the guest stopped while it ran (timeout or crash, see above)"
				else
					r="FAIL did not run: the guest stopped before it"
				fi
				printf '  %-8s %-16s %s\n' "$name" "$s" "$r"
				failn=$((failn + 1))
			fi
		done
	done
	for s in "${HOST_SKIPS[@]}"; do
		printf '  %-8s %-16s %s\n' "-" "${s%%|*}" "${s#*|}"
		skipn=$((skipn + 1))
	done
	for name in "${RAN_BOOTS[@]}"; do
		for f in "$JOB/results/$name"/*.log; do
			[ -e "$f" ] || continue
			s=$(basename "$f" .log)
			case $(cat "$JOB/results/$name/$s.result" 2>/dev/null) in
			PASS* | SKIP*) ;;
			*)
				echo
				echo "---- $name/$s log:"
				tail -n 60 "$f"
				;;
			esac
		done
	done
	echo
	if [ "$HAS_IGB" = 1 ]; then
		echo "QEMU $QEMU_VERSION, with the igb device (boot mq ran)"
	else
		echo "QEMU $QEMU_VERSION, without the igb device: boot mq (multi-queue scenarios) skipped"
	fi
	echo "e2e-vm: $pass passed, $failn failed, $skipn skipped"
	FAILED=$failn
	SKIPPED=$skipn
}

main() {
	preflight
	mkdir -p "$E2E_CACHE/kernel"
	# One VM at a time on this machine: TCG uses every CPU.
	exec 9>"$E2E_CACHE/run.lock"
	if ! flock -n 9; then
		log "another e2e-vm run holds $E2E_CACHE/run.lock; waiting"
		flock 9
	fi
	local t0 status=0 rc
	t0=$(date +%s)
	kernel_select
	qemu_detect
	if [ "$HAS_IGB" = 1 ]; then
		log "kernel $KVER, QEMU $QEMU_VERSION (has igb: boot mq runs), $(accel)"
	else
		log "kernel $KVER, QEMU $QEMU_VERSION (no igb device: boot mq is skipped; scripts/deps.sh installs QEMU 10 from bookworm-backports), $(accel)"
	fi

	JOB=$(mktemp -d /tmp/nettune-e2e.XXXXXX)
	chmod 755 "$JOB"
	build_binaries
	build_initramfs "$JOB/initramfs.cpio"
	write_job_files

	RAN_BOOTS=()
	HOST_SKIPS=()
	local list=() s extra=""
	for s in "${BOOT_IOMMU[@]}"; do
		if [ "$s" = s0-guest ] || wanted "$s"; then list+=("$s"); fi
	done
	if wanted s4-bootargs; then
		cpu_boot_args
		[ -e "$JOB/s4/cmdline" ] && extra=$(cat "$JOB/s4/cmdline")
	fi
	if [ ${#list[@]} -gt 1 ] || [ -z "${E2E_VM_SCENARIOS:-}" ]; then
		RAN_BOOTS+=(iommu)
		rc=0
		BOOT_ENV=()
		boot iommu 1 "$extra" "${list[@]}" || rc=$?
		[ "$rc" = 3 ] && status=3
		[ "$status" = 0 ] && [ "$rc" != 0 ] && status=$rc
	fi

	list=()
	for s in "${BOOT_NOIOMMU[@]}"; do
		if [ "$s" = s0-guest ] || wanted "$s"; then list+=("$s"); fi
	done
	if [ ${#list[@]} -gt 1 ]; then
		# Everything in this boot needs nettune bind; without it, do not
		# spend a boot on reporting that.
		if "$JOB/bin/nettune" bind --help >/dev/null 2>&1; then
			RAN_BOOTS+=(noiommu)
			rc=0
			BOOT_ENV=()
			boot noiommu 0 "" "${list[@]}" || rc=$?
			[ "$rc" = 3 ] && status=3
			[ "$status" = 0 ] && [ "$rc" != 0 ] && status=$rc
		else
			HOST_SKIPS+=("s5-noiommu|SKIP nettune bind not available in this build (boot noiommu not started)")
		fi
	fi

	# Boots fleet1 (s15-ansible, in CI: one guest driven by ansible-playbook
	# over SSH, first run and the idempotent second) or fleet1 and fleet2
	# (s16-ansible, opt-in: the whole sequence on a fleet of two; ansible.sh).
	if wanted s15-ansible; then
		rc=0
		ansible_fleet s15-ansible 1 || rc=$?
		[ "$status" = 0 ] && [ "$rc" != 0 ] && status=$rc
	fi
	if wanted s16-ansible; then
		rc=0
		ansible_fleet s16-ansible 2 || rc=$?
		[ "$status" = 0 ] && [ "$rc" != 0 ] && status=$rc
	fi

	if [ -z "${E2E_VM_SCENARIOS:-}" ] || wanted s13-install || wanted s13-boot; then
		if "$JOB/bin/nettune" install --help >/dev/null 2>&1; then
			rc=0
			sd_boots || rc=$?
			[ "$rc" = 3 ] && status=3
			[ "$status" = 0 ] && [ "$rc" != 0 ] && status=$rc
		else
			HOST_SKIPS+=("s13-install|SKIP nettune install not available in this build (systemd boots not started)")
		fi
	fi

	list=()
	for s in "${BOOT_MQ[@]}"; do
		if [ "$s" = s0-guest ] || wanted "$s"; then list+=("$s"); fi
	done
	if [ ${#list[@]} -gt 1 ]; then
		if [ "$HAS_IGB" = 1 ]; then
			mq_setup
			trap mq_cleanup EXIT
			extra=""
			if wanted s7-boot-drift; then
				cpu_boot_args "$JOB/s7" "$VM/profiles/mq-boot.yaml"
				[ -e "$JOB/s7/cmdline" ] && extra=$(cat "$JOB/s7/cmdline")
			fi
			BOOT_ENV=("NICS=(${MQ_NICS[*]})" "NIC_DRIVERS=(${MQ_NIC_DRIVERS[*]})"
				"NIC_MODULES=(${MQ_NIC_MODULES[*]})" "NIC_IDS=(${MQ_NIC_IDS[*]})"
				"DISK=$MQ_DISK" "VIRTIO_QUEUES=$MQ_VIRTIO_QUEUES")
			RAN_BOOTS+=(mq)
			rc=0
			boot mq 1 "$extra" "${list[@]}" || rc=$?
			[ "$rc" = 3 ] && status=3
			[ "$status" = 0 ] && [ "$rc" != 0 ] && status=$rc
			mq_cleanup
		else
			for s in "${list[@]:1}"; do
				HOST_SKIPS+=("$s|SKIP QEMU $QEMU_VERSION has no igb device (boot mq not started; scripts/deps.sh installs QEMU 10 from bookworm-backports)")
			done
		fi
	fi

	report
	log "total $(($(date +%s) - t0)) s"
	if [ "$status" = 0 ] && [ "$FAILED" -gt 0 ]; then
		status=1
	fi
	if [ "$status" = 0 ] && [ "${E2E_VM_REQUIRE_ALL:-0}" = 1 ] && [ "$SKIPPED" -gt 0 ]; then
		log "E2E_VM_REQUIRE_ALL=1: $SKIPPED scenario(s) skipped"
		status=1
	fi
	if [ "$status" = 0 ] && [ "${E2E_VM_KEEP:-0}" != 1 ]; then
		rm -rf "$JOB"
	else
		log "job directory kept: $JOB"
	fi
	exit "$status"
}

main "$@"
