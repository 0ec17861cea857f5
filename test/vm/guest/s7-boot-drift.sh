#!/bin/bash
# Scenario 7 (boot mq): a reboot whose kernel ignored an argument is drift.
#
# On the host, run.sh applied profiles/mq-boot.yaml to a snapshot root with a
# Debian GRUB layout and booted this guest with the kernel arguments nettune
# wrote there (/job/s7/cmdline): CPU 1 isolated and one 1G page at boot.
# The page fits the guest's 2 GiB, but the only 1 GiB-aligned range ends in
# memory the firmware reserves, so the kernel cannot allocate it ("HugeTLB:
# allocating 1 of page size 1.00 GiB failed") and holds no 1G page, while
# the isolation took effect. With that GRUB configuration in place, nettune
# check of the profile must not be ok: the arguments are on the command line
# and in the bootloader, yet the kernel holds 0 of 1 page, which is drift
# (exit 2), not "pending reboot" and not ok. The cpu items stay ok.
. /job/guest/lib.sh

[ -e /job/s7/skip ] && skip "$(cat /job/s7/skip)"
[ -e /job/s7/fail ] && fail "$(cat /job/s7/fail)"
[ -s /job/s7/cmdline ] || fail "the harness computed no kernel arguments"

read -r -a want </job/s7/cmdline
read -r -a have </proc/cmdline
for w in "${want[@]}"; do
	printf '%s\n' "${have[@]}" | grep -qxF -- "$w" || fail "the guest was not booted with $w (cmdline: ${have[*]})"
done
printf '%s\n' "${want[@]}" | grep -qx 'hugepagesz=1G' || fail "nettune put no hugepagesz=1G on the command line: ${want[*]}"
log "ok: booted with ${want[*]}"

# The premise: the kernel ignored the 1G page and honoured the isolation.
p1g=/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages
[ -e "$p1g" ] || fail "the guest kernel has no 1G hugepage pool (pdpe1gb: $(grep -cw pdpe1gb /proc/cpuinfo) CPUs)"
[ "$(cat "$p1g")" = 0 ] || fail "the kernel holds $(cat "$p1g") 1G pages: it did not ignore hugepages=1, the scenario proves nothing"
iso=$(cat /sys/devices/system/cpu/isolated)
[ "$iso" = 1 ] || fail "/sys/devices/system/cpu/isolated is '$iso', want 1"
log "ok: 0 1G pages (dmesg: $(dmesg | grep -m1 'HugeTLB.*1.00 GiB' || echo 'no HugeTLB message')), isolated $iso"

log "+ install the GRUB configuration of the snapshot root"
(cd /job/s7/root && find etc/default/grub etc/default/grub.d boot/grub -type f 2>/dev/null) | while read -r f; do
	mkdir -p "/$(dirname "$f")"
	cp "/job/s7/root/$f" "/$f"
	log "  /$f"
done
cat >/usr/sbin/update-grub <<'STUB'
#!/bin/sh
echo "e2e guest: update-grub is a stub and must not run during check" >&2
exit 1
STUB
chmod 755 /usr/sbin/update-grub

nt check.json check --diagnostics=false -o json "$PROFILES/mq-boot.yaml"
want_rc 2 "nettune check of a profile whose 1G pages the booted kernel ignored (want drift)"
check "check after a boot that ignored hugepagesz=1G" check -file "$W/check.json" -status drift -module hugepages -items not-ok
check "the cpu items of the same check" check -file "$W/check.json" -status drift -module cpu -items ok
