#!/bin/bash
# Scenario 3: one profile prepares the guest for DPDK and is undone.
#
# profiles/dpdk-host.yaml sets rings on both NICs and coalescing on the
# e1000e (applied first, while they are still on their kernel drivers),
# reserves 2M hugepages, mounts hugetlbfs, sets transparent hugepages to
# madvise and binds both NICs to vfio-pci. After apply, sysfs shows all of
# it and check of the profile exits 0. Then (part s3-run) nettune run
# forwards between the two NICs with DPDK's e1000 driver for some seconds,
# traffic kept circulating by txFirst, and reports forwarded packets > 0
# with every packet accounted for. revert puts both NICs back on their
# kernel drivers with the ring and coalescing values they had before, the
# hugepages, the mount and the THP mode as they were, and check exits 2.
#
# check runs without its diagnostics (--diagnostics=false): they judge the
# guest as a whole (a TCG guest has findings of its own), while this
# scenario is about the profile's settings.
#
# The NICs start from non-default rings and coalescing, different for each
# NIC, so that neither the driver's defaults after a rebind nor the other
# NIC's values can pass as "restored".
. /job/guest/lib.sh
need_cmd apply check revert
host=$PROFILES/dpdk-host.yaml
RUN_SECONDS=${RUN_SECONDS:-20}
need_modules "$host"

# Different rings per NIC: a revert that mixes the NICs up shows.
PRESET_RINGS=(512 384)
ifs=()
for i in "${!NICS[@]}"; do
	a=${NICS[$i]}
	ifc=$(ifaces "$a")
	ifs+=("$ifc")
	ring=${PRESET_RINGS[$i]}
	log "+ ethtool -G $ifc rx $ring tx $ring"
	ethtool -G "$ifc" rx "$ring" tx "$ring" || fail "cannot preset the rings of $ifc"
	if [ "${NIC_DRIVERS[$i]}" = e1000e ]; then
		log "+ ethtool -C $ifc rx-usecs 100"
		ethtool -C "$ifc" rx-usecs 100 || fail "cannot preset the coalescing of $ifc"
	fi
	eth_settings "$a" >"$W/before-$a.txt"
	indent '  | ' "$W/before-$a.txt"
done
pages_before=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages)
thp_before=$(cat /sys/kernel/mm/transparent_hugepage/enabled)
case $thp_before in *"[madvise]"*) fail "transparent hugepages are already madvise: $thp_before" ;; esac
grep -q ' /mnt/huge-e2e ' /proc/mounts && fail "/mnt/huge-e2e is already mounted"

nt apply.json apply --yes -o json "$host"
want_rc 0 "nettune apply $host"
# The NIC settings can only be made while the kernel driver has the NIC:
# they must come before the binding. Afterwards the interfaces are gone,
# so the apply document is the evidence; revert below checks the values.
check "the changes apply made" applied -file "$W/apply.json" -order nics,devices \
	"nics|${ifs[0]}|rings|rx-ring=1024" "nics|${ifs[1]}|rings|rx-ring=1024" "nics|${ifs[1]}|coalesce|rx-usecs=50" \
	"devices|${NICS[0]}|driver|vfio-pci" "devices|${NICS[1]}|driver|vfio-pci"
for a in "${NICS[@]}"; do
	want_driver "$a" vfio-pci "after apply"
done
pages=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages)
[ "$pages" = 128 ] || fail "after apply: 2M nr_hugepages is $pages, want 128"
grep -q '^[^ ]* /mnt/huge-e2e hugetlbfs ' /proc/mounts || fail "after apply: no hugetlbfs mounted on /mnt/huge-e2e"
grep -q '\[madvise\]' /sys/kernel/mm/transparent_hugepage/enabled ||
	fail "after apply: transparent hugepages are $(cat /sys/kernel/mm/transparent_hugepage/enabled), want madvise"
log "ok: 128 2M pages, hugetlbfs on /mnt/huge-e2e, THP madvise"

nt check.json check --diagnostics=false -o json "$host"
want_rc 0 "nettune check right after apply"
check "check right after apply" check -file "$W/check.json" -status ok

if has_cmd run; then
	# --duration counts from the start of nettune run, and under TCG the
	# EAL start-up and the link wait take 5 to 12 s: 20 s leave several
	# seconds of forwarding.
	log "+ nettune run -o json --duration ${RUN_SECONDS}s dpdk-run.yaml"
	timeout -k 5 180 nettune run -o json --duration "${RUN_SECONDS}s" "$PROFILES/dpdk-run.yaml" >"$W/run.json" 2>"$W/run.json.err"
	rc=$?
	indent '  | ' "$W/run.json"
	indent '  ! ' "$W/run.json.err"
	if [ "$rc" -ne 0 ]; then
		subresult "$E2E_SCENARIO-run" "FAIL nettune run exited $rc: $(tail -n1 "$W/run.json.err")"
	elif ! out=$(vmcheck run -file "$W/run.json" 2>&1); then
		log "$out"
		subresult "$E2E_SCENARIO-run" "FAIL $(printf '%s\n' "$out" | grep -m1 FAIL | sed 's/^vmcheck [a-z]*: FAIL: //')"
	elif [ -n "$(find /run/dpdk -mindepth 1 2>/dev/null)" ]; then
		subresult "$E2E_SCENARIO-run" "FAIL nettune run left DPDK runtime files: $(find /run/dpdk -mindepth 1 | head -n3 | tr '\n' ' ')"
	elif [ "$(meminfo_hugepages Free)" != "$(meminfo_hugepages Total)" ]; then
		subresult "$E2E_SCENARIO-run" "FAIL nettune run left hugepages in use: $(meminfo_hugepages Free) of $(meminfo_hugepages Total) free"
	else
		log "$out"
		subresult "$E2E_SCENARIO-run" PASS
	fi
	for a in "${NICS[@]}"; do
		want_driver "$a" vfio-pci "after nettune run"
	done
else
	subresult "$E2E_SCENARIO-run" "SKIP nettune run not available in this build"
fi

nt revert.json revert --yes -o json
want_rc 0 "nettune revert"
for i in "${!NICS[@]}"; do
	a=${NICS[$i]}
	want_driver "$a" "${NIC_DRIVERS[$i]}" "after revert"
	want_override_clear "$a" "after revert"
	eth_settings "$a" >"$W/after-$a.txt" || fail "after revert: cannot read the settings of $a"
	if ! diff -u "$W/before-$a.txt" "$W/after-$a.txt" >"$W/diff-$a.txt"; then
		indent '  ' "$W/diff-$a.txt"
		fail "after revert: rings/coalescing of $a ($(ifaces "$a")) differ from before apply: $(grep '^[-+][^-+]' "$W/diff-$a.txt" | tr '\n' ' ' | tr -s '\t ' ' ')"
	fi
	log "ok: $a back on ${NIC_DRIVERS[$i]} with its rings and coalescing"
done
pages=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages)
[ "$pages" = "$pages_before" ] || fail "after revert: 2M nr_hugepages is $pages, want $pages_before"
grep -q ' /mnt/huge-e2e ' /proc/mounts && fail "after revert: /mnt/huge-e2e is still mounted"
thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled)
[ "$thp" = "$thp_before" ] || fail "after revert: transparent hugepages are $thp, want $thp_before"
log "ok: hugepages, mount and THP as before apply"

nt check-after.json check --diagnostics=false -o json "$host"
want_rc 2 "nettune check after revert"
check "check after revert" check -file "$W/check-after.json" -status drift
