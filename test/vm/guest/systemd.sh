#!/bin/bash
# Runs inside the systemd boots (sd1, sd2) as nettune-e2e.service, which the
# initramfs wrote: systemd is PID 1, udev runs, the root is the overlay of
# the host's / with a persistent upper layer on the guest's disk. Runs the
# scenarios of this boot with init.sh's result protocol (without its NIC
# baseline: these scenarios own the guest's state across the reboot), then
# records the exit status and powers off.
set -u
boot=$1
# /job/bin last: boot sd2 must run the nettune that sd1 installed.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/job/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
export E2E_BOOT=$boot
res=/job/results/$boot
mkdir -p "$res"
echo "guest up under systemd: kernel $(uname -r), $(nproc) CPUs, boot $boot, $(($(cut -d. -f1 /proc/uptime))) s after the kernel started"
failed=0
for s in $(cat "/job/boots/$boot"); do
	start=$(date +%s)
	rm -f "$res/$s.reason"
	echo "=== $s"
	E2E_SCENARIO=$s E2E_RESULTS=$res timeout -k 10 "${SCENARIO_TIMEOUT:-300}" \
		bash "/job/guest/$s.sh" >"$res/$s.log" 2>&1
	rc=$?
	reason=$(cat "$res/$s.reason" 2>/dev/null)
	case $rc in
	0) result=PASS ;;
	77) result="SKIP ${reason:-no reason given}" ;;
	124 | 137) result="FAIL timed out${reason:+ ($reason)}" ;;
	*) result="FAIL ${reason:-exit status $rc}" ;;
	esac
	case $result in
	FAIL*)
		failed=1
		{
			echo "--- systemctl --failed; nettune units; journal of nettune"
			systemctl --no-pager --failed
			systemctl --no-pager list-units --all 'nettune*'
			journalctl --no-pager -b -u 'nettune*' | tail -n 60
			echo "--- dmesg (last 30 lines)"
			dmesg | tail -n 30
		} >>"$res/$s.log" 2>&1
		;;
	esac
	echo "$result" >"$res/$s.result"
	echo $(($(date +%s) - start)) >"$res/$s.secs"
	echo "=== $s: $result ($(($(date +%s) - start)) s)"
done
{
	systemd-analyze critical-chain nettune-e2e.service
	systemd-analyze blame | head -n 15
} >"$res/systemd-analyze.txt" 2>&1
echo "$failed" >"$res/exit"
sync
# The harness starts the next boot on the same disk: a power cycle. The
# upper layer is synced; no unit needs a clean stop.
systemctl --force --force poweroff
