#!/bin/bash
# Runs inside the systemd boots (sd1, sd2) as nettune-e2e.service, which the
# initramfs wrote: systemd is PID 1, udev runs, the root is the overlay of
# the host's / with a persistent upper layer on the guest's disk. Runs the
# scenarios of this boot with runner.sh, as init.sh does but without its
# NIC baseline (these scenarios own the guest's state across the reboot),
# then records the exit status and powers off.
set -u
boot=$1
# /job/bin last: boot sd2 must run the nettune that sd1 installed.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/job/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
export E2E_BOOT=$boot
res=/job/results/$boot
mkdir -p "$res"
echo "guest up under systemd: kernel $(uname -r), $(nproc) CPUs, boot $boot, $(($(cut -d. -f1 /proc/uptime))) s after the kernel started"

keep_result() { :; }

on_fail() {
	echo "--- systemctl --failed; nettune units; journal of nettune"
	systemctl --no-pager --failed
	systemctl --no-pager list-units --all 'nettune*'
	journalctl --no-pager -b -u 'nettune*' | tail -n 60
	echo "--- dmesg (last 30 lines)"
	dmesg | tail -n 30
}

# shellcheck source=runner.sh
. /job/guest/runner.sh
run_scenarios "$boot" keep_result on_fail
failed=$?
{
	systemd-analyze critical-chain nettune-e2e.service
	systemd-analyze blame | head -n 15
} >"$res/systemd-analyze.txt" 2>&1
echo "$failed" >"$res/exit"
sync
# The harness starts the next boot on the same disk: a power cycle. The
# upper layer is synced; no unit needs a clean stop.
systemctl --force --force poweroff
