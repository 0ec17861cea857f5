#!/bin/bash
# Scenario 4: boot parameters. On the host, run.sh applied profiles/cpu-isolated.yaml
# to a snapshot root with a Debian GRUB layout and booted this guest with
# the kernel arguments nettune wrote there (/job/s4/cmdline). Here the
# running kernel must show the isolation and the boot-time hugepages, and
# with that GRUB configuration in place, nettune check of the profile must
# be ok (exit 0), while a profile asking for other CPUs is not (exit 2 or 3).
# check runs without its diagnostics, which judge the whole guest (THP mode,
# IRQs on isolated CPUs...), not the profile.
. /job/guest/lib.sh

[ -e /job/s4/skip ] && skip "$(cat /job/s4/skip)"
[ -e /job/s4/fail ] && fail "$(cat /job/s4/fail)"
[ -s /job/s4/cmdline ] || fail "the harness computed no kernel arguments"

read -r -a want </job/s4/cmdline
read -r -a have </proc/cmdline
for w in "${want[@]}"; do
	printf '%s\n' "${have[@]}" | grep -qxF -- "$w" || fail "the guest was not booted with $w (cmdline: ${have[*]})"
done
log "ok: booted with ${want[*]}"

# The isolation and the pages took effect in the running kernel.
iso=$(cat /sys/devices/system/cpu/isolated)
[ "$iso" = "$ISOLATED" ] || fail "/sys/devices/system/cpu/isolated is '$iso', want '$ISOLATED'"
nohz=$(cat /sys/devices/system/cpu/nohz_full 2>/dev/null)
[ "$nohz" = "$ISOLATED" ] || fail "/sys/devices/system/cpu/nohz_full is '$nohz', want '$ISOLATED'"
total=$(meminfo_hugepages Total)
[ "$total" = "$BOOT_HUGEPAGES" ] || fail "HugePages_Total is $total, want $BOOT_HUGEPAGES reserved at boot"
log "ok: isolated $iso, nohz_full $nohz, $total boot-time hugepages"

# The bootloader configuration nettune wrote on the snapshot is this
# guest's configuration.
log "+ install the GRUB configuration of the snapshot root"
(cd /job/s4/root && find etc/default/grub etc/default/grub.d boot/grub -type f 2>/dev/null) | while read -r f; do
	mkdir -p "/$(dirname "$f")"
	cp "/job/s4/root/$f" "/$f"
	log "  /$f"
done

# A GRUB host has update-grub; nettune refuses to plan a command-line change
# without it. The guest's userland is this machine's, which boots without
# GRUB, so stand in a stub that fails loudly if anything runs it: check
# must only read.
cat >/usr/sbin/update-grub <<'STUB'
#!/bin/sh
echo "e2e guest: update-grub is a stub and must not run during check" >&2
exit 1
STUB
chmod 755 /usr/sbin/update-grub

nt check.json check --diagnostics=false -o json "$PROFILES/cpu-isolated.yaml"
want_rc 0 "nettune check of the profile the guest was booted with"
check "check of the booted profile" check -file "$W/check.json" -status ok -module cpu -items ok

nt check-other.json check --diagnostics=false -o json "$PROFILES/cpu-other.yaml"
[ "$NT_RC" -eq 2 ] || [ "$NT_RC" -eq 3 ] || fail "nettune check of a profile isolating other CPUs exited $NT_RC, want 2 or 3"
check "check of a profile isolating other CPUs" check -file "$W/check-other.json" -status drift,pending-reboot -module cpu -items not-ok

# Runtime isolation (spec.cpu.runtime, module housekeeping) on the kernel
# that isolated CPU 1: apply moves unbound workqueues, writeback and the
# lockup detectors to CPU 0, stops timer migration and gives ksoftirqd/1
# SCHED_FIFO 11 (read back from /proc/PID/stat); check is ok; revert puts
# every value back.
revert_all_on_exit
rt_files="/sys/devices/virtual/workqueue/cpumask /sys/bus/workqueue/devices/writeback/cpumask /proc/sys/kernel/timer_migration /proc/sys/kernel/watchdog_cpumask"
rt_values() {
	local f v out=
	for f in $rt_files; do
		read -r v <"$f"
		out+="$v "
	done
	printf '%s' "$out"
}
ksoftirqd1_sched() {
	local d comm
	for d in /proc/[0-9]*; do
		read -r comm <"$d/comm" 2>/dev/null || continue
		if [ "$comm" = ksoftirqd/1 ]; then
			local -a st
			read -r -a st <"$d/stat"
			# rt_priority and policy are fields 40 and 41.
			printf '%s:%s' "${st[40]}" "${st[39]}"
			return
		fi
	done
}
rt_before=$(rt_values)
sched_before=$(ksoftirqd1_sched)
log "before: $rt_before; ksoftirqd/1 policy:priority $sched_before"
nt apply-rt.json apply --yes -o json "$PROFILES/cpu-runtime.yaml"
want_rc 0 "nettune apply of the runtime isolation"
rt_after=$(rt_values)
[ "$rt_after" = "1 1 0 0 " ] || fail "after apply: $rt_after, want the masks 1 1, timer_migration 0, watchdog_cpumask 0"
sched_after=$(ksoftirqd1_sched)
[ "$sched_after" = "1:11" ] || fail "ksoftirqd/1 policy:priority is $sched_after after apply, want 1:11 (SCHED_FIFO 11)"
log "ok: after apply $rt_after; ksoftirqd/1 $sched_after"
nt check-rt.json check --diagnostics=false -o json "$PROFILES/cpu-runtime.yaml"
want_rc 0 "nettune check of the applied runtime isolation"
check "check of the runtime isolation" check -file "$W/check-rt.json" -status ok -module housekeeping -items ok
nt revert-rt.json revert --yes -o json
want_rc 0 "nettune revert of the runtime isolation"
[ "$(rt_values)" = "$rt_before" ] || fail "after revert: $(rt_values), want $rt_before"
[ "$(ksoftirqd1_sched)" = "$sched_before" ] || fail "ksoftirqd/1 is $(ksoftirqd1_sched) after revert, want $sched_before"
log "ok: revert restored $rt_before and ksoftirqd/1 $sched_before"
