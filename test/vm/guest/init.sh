#!/bin/bash
# Runs inside the guest, chrooted into the overlay of the host's root, as
# root. Prepares the guest (pseudo filesystems, private state directories,
# NIC drivers), then runs the scenarios of this boot one by one (runner.sh),
# each recorded as PASS, FAIL <reason> or SKIP <reason> in
# /job/results/<boot>/<scenario>.result. Between scenarios the NICs are
# checked to be back on their original drivers; a scenario that leaves one
# elsewhere fails, and the NIC is put back through sysfs so the next
# scenario starts clean. Exit status: 0 when no scenario failed.

set -u
boot=$1
export PATH=/run/e2e/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
unset SSH_CONNECTION SSH_CLIENT SSH_TTY

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# What udev would add: /dev/fd (bash process substitution) and stdio links.
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# Private, empty state: the host's /run, /tmp and nettune journal (seen
# through the read-only host root) must not leak into the guest.
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /var/lib/nettune
mount -t tmpfs -o mode=0755 tmpfs /var/lib/nettune
hostname nettune-e2e

export E2E_BOOT=$boot
# shellcheck source=lib.sh
. /job/guest/lib.sh

res=/job/results/$boot
mkdir -p "$res" /run/e2e/bin
cp /job/bin/* /run/e2e/bin/
echo "guest up: kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/{print $2" kB"}' /proc/meminfo), boot $boot"
echo "cmdline: $(cat /proc/cmdline)"

ip link set lo up
# No udev: load the NIC drivers ourselves, one after the other so that the
# interface names follow the PCI order.
for d in $(printf '%s\n' "${NIC_MODULES[@]:-${NIC_DRIVERS[@]}}" | awk '!seen[$0]++'); do
	modprobe "$d" || echo "modprobe $d failed"
done
for i in "${!NICS[@]}"; do
	wait_driver "${NICS[$i]}" "${NIC_DRIVERS[$i]}" 20 || echo "warning: ${NICS[$i]} is not on ${NIC_DRIVERS[$i]} after boot"
done

# Every scenario must leave the NICs as it found them: one that leaves
# one elsewhere fails, and the NICs are put back through sysfs.
after_scenario() {
	local leftover
	if ! leftover=$(baseline_check); then
		if [ "$RESULT" = PASS ]; then
			RESULT="FAIL left the NICs changed: $leftover"
		fi
		echo "--- baseline not restored: $leftover; putting the NICs back through sysfs" >>"$res/$1.log"
		baseline_restore >>"$res/$1.log" 2>&1
	fi
}

on_fail() {
	echo "--- dmesg (last 40 lines)"
	dmesg | tail -n 40
}

# shellcheck source=runner.sh
. /job/guest/runner.sh
run_scenarios "$boot" after_scenario on_fail
failed=$?
sync
exit $failed
