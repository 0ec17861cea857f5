#!/bin/bash
# Boot sd2: the same persistent disk after the power cycle. Without any
# nettune command, the boot units and udev must have applied
# profiles/boot-systemd.yaml: the sysctl and the hugepages early, the
# present NIC's settings through nettune-nic@, the vfio-pci binding through
# the driver_override rule, although the profile's second NIC is missing.
# A veth starts no NIC unit. Then the harness hot-adds the missing NIC
# (device_add on the QEMU monitor) and udev applies its settings; 'nettune
# check' of the installed profile then exits 0.
# shellcheck source=lib.sh
. /job/guest/lib.sh
need_cmd install
P=/etc/nettune/profile.yaml
[ -e "$P" ] || fail "$P is gone: the upper layer did not persist"

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.5 s.
wait_for() {
	local n=$(($1 * 2)) what=$2
	shift 2
	while ! "$@"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || fail "timed out waiting for $what"
		sleep 0.5
	done
}
ifname_of() {
	local d
	for d in /sys/bus/pci/devices/"$1"/net/*; do
		[ -e "$d" ] && { printf '%s' "${d##*/}"; return 0; }
	done
	return 1
}
txq_is() { [ "$(cat "/sys/class/net/$1/tx_queue_len" 2>/dev/null)" = "$2" ]; }
unit_done() { [ "$(systemctl show -P ActiveState "$1")" = inactive ] && [ "$(systemctl show -P Result "$1")" = success ]; }

log "nettune-apply.service: $(systemctl show -P ActiveState nettune-apply.service)/$(systemctl show -P Result nettune-apply.service)"
systemctl is-active --quiet nettune-apply.service || fail "nettune-apply.service is not active"
[ ! -e /sys/bus/pci/devices/0000:01:00.0 ] || fail "0000:01:00.0 is present before the hot-add"

# Host-wide settings, applied although a profile NIC is missing.
[ "$(cat /proc/sys/net/core/somaxconn)" = 8192 ] || fail "somaxconn is $(cat /proc/sys/net/core/somaxconn), want 8192"
hp=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages)
[ "$hp" = 32 ] || fail "nr_hugepages (2M) is $hp, want 32"

# The vfio-pci binding came from the udev rule's driver_override.
drv_is() { [ "$(drv "$1")" = "$2" ]; }
wait_for 30 "0000:00:05.0 on vfio-pci" drv_is 0000:00:05.0 vfio-pci
[ "$(override 0000:00:05.0)" = vfio-pci ] || fail "0000:00:05.0 driver_override is $(override 0000:00:05.0), want vfio-pci"

# The present NIC, by its own unit.
wait_for 30 "an interface on 0000:00:04.0" ifname_of 0000:00:04.0 >/dev/null
nic=$(ifname_of 0000:00:04.0)
wait_for 60 "nettune-nic@$nic.service to finish" unit_done "nettune-nic@$nic.service"
txq_is "$nic" 1234 || fail "$nic txqueuelen $(cat "/sys/class/net/$nic/tx_queue_len"), want 1234"
rx=$(ethtool -g "$nic" | awk '/^Current hardware settings/ {c = 1} c && $1 == "RX:" {print $2; exit}')
[ "$rx" = 512 ] || fail "$nic rx ring is $rx, want 512"

# A device the profile does not select starts nothing.
ip link add e2ev0 type veth peer name e2ev1 || fail "cannot create a veth"
udevadm settle -t 10
n=$(systemctl list-units --all --no-legend 'nettune-nic@e2ev*' | wc -l)
ip link del e2ev0
[ "$n" = 0 ] || fail "the veth started $n nettune-nic unit(s)"

# The missing NIC appears: the harness answers this file with device_add.
log "asking the harness to hot-add 0000:01:00.0"
: >"$E2E_RESULTS/hotplug.request"
wait_for 90 "the hot-added NIC's interface" ifname_of 0000:01:00.0 >/dev/null
hot=$(ifname_of 0000:01:00.0)
log "hot-added: $hot on $(drv 0000:01:00.0)"
wait_for 60 "txqueuelen 2345 on $hot (nettune-nic@$hot.service)" txq_is "$hot" 2345
wait_for 30 "nettune-nic@$hot.service to finish" unit_done "nettune-nic@$hot.service"
txq_is "$nic" 1234 || fail "$nic txqueuelen changed by the hot-added NIC's apply"

nt revert-list revert --list
nt check check --interval 0 --diagnostics=false "$P"
want_rc 0 "nettune check of the installed profile after the reboot and the hot-add"
journalctl --no-pager -b -u 'nettune*' | tail -n 40
