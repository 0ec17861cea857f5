#!/bin/bash
# Scenario 14 (boot mq): SR-IOV on the igb (QEMU's 82576, sriov_totalvfs 7).
#
# 1. A profile creates 2 VFs with drivers_autoprobe off (no igbvf needed),
#    gives VF 1 a MAC and port VLAN 100 through the PF's netlink, and binds
#    VF 1 to vfio-pci by PF and VF index (the VF does not exist at plan time:
#    the binding is planned as pending on creation). After apply, sysfs
#    shows sriov_numvfs 2, virtfn0/virtfn1 with physfn links back, VF 1 on
#    vfio-pci, and `ip link show` of the PF shows the MAC and vlan 100; check
#    exits 0.
# 2. nettune run forwards between VF 1 (DPDK's net_e1000_igb_vf through
#    vfio-pci) and a net_null port (part s14-sriov-run). While it holds VF
#    1's VFIO group open, revert is refused and the VFs stay; once it has
#    ended, revert removes the VFs (sriov_numvfs 0, no virtfn links) and puts
#    drivers_autoprobe back.
. /job/guest/lib.sh
need_cmd plan apply check revert

pf=${NICS[0]}
dev=/sys/bus/pci/devices/$pf
[ -e "$dev/sriov_totalvfs" ] || skip "$pf has no SR-IOV capability (sriov_totalvfs)"
log "$pf: sriov_totalvfs $(<"$dev/sriov_totalvfs"), sriov_numvfs $(<"$dev/sriov_numvfs"), offset $(<"$dev/sriov_offset"), stride $(<"$dev/sriov_stride")"
ig=$(ifaces "$pf")
[ -n "$ig" ] || fail "the igb $pf has no interface"
ip link set "$ig" up || fail "cannot set $ig up"
auto0=$(<"$dev/sriov_drivers_autoprobe")
runpid=""
trap '[ -z "$runpid" ] || { kill "$runpid"; wait "$runpid"; } 2>/dev/null; nettune revert --all --yes >/dev/null 2>&1; echo 0 >"$dev/sriov_numvfs"; ip link set "$ig" down' EXIT

prof=$W/sriov.yaml
cat >"$prof" <<EOT
apiVersion: nettune/v1
kind: Profile
metadata:
  name: sriov
spec:
  sriov:
    - pf: $pf
      numVFs: 2
      driversAutoprobe: false
      vfs:
        - index: 1
          mac: 02:00:00:00:0e:01
          vlan: 100
  devices:
    - pf: $pf
      vf: 1
      driver: vfio-pci
EOT
nt plan.out plan "$prof"
want_rc 0 "plan"
grep -q "^devices .* driver: pending on creation: VF 1 of $pf" "$W/plan.out" || fail "plan does not show the VF binding as pending on creation"

nt apply.out apply "$prof" --yes
want_rc 0 "apply"
[ "$(<"$dev/sriov_numvfs")" = 2 ] || fail "sriov_numvfs is $(<"$dev/sriov_numvfs") after apply, want 2"
[ "$(<"$dev/sriov_drivers_autoprobe")" = 0 ] || fail "sriov_drivers_autoprobe is $(<"$dev/sriov_drivers_autoprobe"), want 0"
for n in 0 1; do
	[ -L "$dev/virtfn$n" ] || fail "no $dev/virtfn$n after apply"
	vf=$(basename "$(readlink "$dev/virtfn$n")")
	[ "$(basename "$(readlink "/sys/bus/pci/devices/$vf/physfn")")" = "$pf" ] || fail "VF $vf has no physfn link to $pf"
	log "ok: virtfn$n -> $vf, physfn -> $pf"
done
vf1=$(basename "$(readlink "$dev/virtfn1")")
want_driver "$vf1" vfio-pci "VF 1 after apply"
vf0=$(basename "$(readlink "$dev/virtfn0")")
[ -z "$(drv "$vf0")" ] || fail "VF 0 $vf0 is on '$(drv "$vf0")' with drivers_autoprobe 0, want no driver"
line=$(ip link show "$ig" | grep -E '^\s+vf 1 ')
log "ip link: $line"
case $line in *02:00:00:00:0e:01*"vlan 100"*) ;; *) fail "VF 1 does not show MAC 02:00:00:00:0e:01 and vlan 100: $line" ;; esac
nt check.out check --diagnostics=false "$prof"
want_rc 0 "check after apply"

# The forwarder's PCI path on VF 1 (DPDK's net_e1000_igb_vf), paired with a
# net_null port: while it runs it holds VF 1's VFIO group, and revert must
# refuse to remove the VFs. When DPDK cannot drive the VF the subresult
# says how it failed, and a plain open of the group node stands in for it.
g=$(iommu_group "$vf1")
node=/dev/vfio/$g
[ -c "$node" ] || node=/dev/vfio/noiommu-$g
cat >"$W/run.yaml" <<EOT
apiVersion: nettune/v1
kind: Profile
metadata:
  name: sriov-run
spec:
  dataplane:
    ports:
      - name: vf
        pf: "$pf"
        vf: 1
      - name: sink
        vdev: net_null0
    pairs:
      - [vf, sink]
    mode: io
    lcores: "1"
    rxDescriptors: 256
    txDescriptors: 256
    memoryMB: 64
EOT
# DPDK's PCI path needs hugepages (the forwarder refuses a PCI port with
# noHuge): 64 2M pages on a hugetlbfs, taken back afterwards.
hp=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
hp0=$(<"$hp")
[ "$hp0" -ge 64 ] || echo 64 >"$hp"
hmnt=""
if ! grep -q ' hugetlbfs ' /proc/mounts; then
	mkdir -p /dev/hugepages && mount -t hugetlbfs none /dev/hugepages && hmnt=/dev/hugepages
fi
holder=""
if has_cmd run; then
	log "+ nettune run -o json --duration 30s run.yaml (VF 1 $vf1 + net_null0)"
	timeout -k 5 120 nettune run -o json --duration 30s "$W/run.yaml" >"$W/run.json" 2>"$W/run.json.err" &
	runpid=$!
	for _ in $(seq 1 60); do
		holder=$(find /proc/[0-9]*/fd -lname "$node" 2>/dev/null | head -n1)
		[ -n "$holder" ] && break
		kill -0 "$runpid" 2>/dev/null || break
		sleep 1
	done
fi
if [ -z "$holder" ]; then
	log "the forwarder does not hold $node; holding it open from the shell instead"
	exec 9<>"$node" || fail "cannot open $node"
fi
nt revert-busy.out revert --yes
[ "$NT_RC" -ne 0 ] || fail "revert exited 0 while $node is open"
grep -q "held open by pid" "$W/revert-busy.out.err" || fail "revert did not say why: $(tail -n1 "$W/revert-busy.out.err")"
[ "$(<"$dev/sriov_numvfs")" = 2 ] || fail "sriov_numvfs is $(<"$dev/sriov_numvfs") after a refused revert, want 2"
[ -L "$dev/virtfn1" ] || fail "virtfn1 is gone after a refused revert"
log "ok: revert refused while $node is open ($(grep -o 'held open by pid [0-9, ]*' "$W/revert-busy.out.err"))"
if [ -n "$holder" ]; then
	wait "$runpid"
	rc=$?
	runpid=""
	indent '  | ' "$W/run.json"
	indent '  ! ' "$W/run.json.err"
	if [ "$rc" -eq 0 ]; then
		subresult "$E2E_SCENARIO-run" PASS
	else
		subresult "$E2E_SCENARIO-run" "FAIL nettune run on VF $vf1 exited $rc: $(tail -n1 "$W/run.json.err")"
	fi
else
	exec 9>&-
	if has_cmd run; then
		wait "$runpid"
		rc=$?
		runpid=""
		indent '  | ' "$W/run.json"
		indent '  ! ' "$W/run.json.err"
		subresult "$E2E_SCENARIO-run" "FAIL nettune run on VF $vf1 never opened $node (exit $rc): $(tail -n1 "$W/run.json.err")"
	else
		subresult "$E2E_SCENARIO-run" "SKIP nettune run not available in this build"
	fi
fi

[ -z "$hmnt" ] || umount "$hmnt"
echo "$hp0" >"$hp"

nt revert.out revert --all --yes
want_rc 0 "revert once the group is closed"
[ "$(<"$dev/sriov_numvfs")" = 0 ] || fail "sriov_numvfs is $(<"$dev/sriov_numvfs") after revert, want 0"
[ ! -e "$dev/virtfn0" ] || fail "$dev/virtfn0 still exists after revert"
[ "$(<"$dev/sriov_drivers_autoprobe")" = "$auto0" ] || fail "sriov_drivers_autoprobe is $(<"$dev/sriov_drivers_autoprobe") after revert, want $auto0"
log "ok: VFs removed, drivers_autoprobe back to $auto0"
