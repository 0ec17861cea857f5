#!/bin/bash
# Scenario 9 (boot mq, booted with CPU 1 isolated by profiles/mq-boot.yaml):
# RPS and XPS masks that name an isolated CPU. The kernel drops CPUs that
# are not housekeeping from RPS maps, so a plan that writes CPU 1 into
# rps_cpus would read back something else at apply and roll back. The plan
# must know: refuse, or take CPU 1 out with a warning. When it plans, apply
# exits 0, every rx queue's rps_cpus holds CPU 0 and not the isolated CPU 1,
# every tx queue's xps_cpus reads back what nettune says it set (check exits
# 0), and revert restores every rps_cpus and xps_cpus.
#
# Before that, on the igb (82576: ntuple-filters: off [fixed], an RSS
# table of 128 entries, rx-flow-hash for udp4/udp6 either sd or sdfn):
# - a profile with an ntuple rule is refused at PLAN time with "this NIC
#   has no ntuple filters" and the profile's file:line:col, the NIC
#   untouched;
# - rss: {weights: [3, 1], hashFunction: toeplitz, flowHash: {udp4: sdfn,
#   udp6: sdfn}} plans, applies (ethtool -x shows 96 entries on queue 0 and
#   32 on queue 1, ethtool -n rx-flow-hash udp4 names the L4 ports), check
#   exits 0, and revert gives ethtool -x and rx-flow-hash back as before
#   (with the igb up: see below).
# The rps/xps profile also sets
# the virtio-net's NAPI files (groFlushTimeout, napiDeferHardIrqs,
# threadedNapi: issue 15); revert restores them too.
. /job/guest/lib.sh
need_cmd plan apply check revert

ig=$(ifaces "${NICS[0]}")
[ -n "$ig" ] || fail "no interface on the igb ${NICS[0]}"
ethtool -k "$ig" | grep -q '^ntuple-filters: off \[fixed\]' ||
	fail "igb: ethtool -k does not show 'ntuple-filters: off [fixed]': $(ethtool -k "$ig" | grep ntuple)"
# Up, as in s8: igb fills its RSS table when the interface opens
# (igb_setup_mrqc); while it is down ethtool -x shows a table of zeros,
# which a revert cannot give back (the driver's default spreads over the rx
# queues).
log "+ ip link set $ig up"
ip link set "$ig" up || fail "cannot set $ig up"
trap 'nettune revert --all --yes >/dev/null 2>&1; ip link set "$ig" down' EXIT
# igb_state: the igb's RSS table, hash function and hash fields as ethtool
# shows them.
igb_state() {
	ethtool -x "$ig" | grep -vi 'hash key' | grep -vE '^ *([0-9a-f]{2}:)+[0-9a-f]{2} *$'
	ethtool -n "$ig" rx-flow-hash udp4
	ethtool -n "$ig" rx-flow-hash udp6
	ethtool -n "$ig" rx-flow-hash tcp4
}
igb_state >"$W/igb-before.txt"
indent '  | ' "$W/igb-before.txt"

cat >"$W/ntuple.yaml" <<PROFILE
apiVersion: nettune/v1
kind: Profile
metadata:
  name: e2e-ntuple
spec:
  nics:
    - match:
        pci: "${NICS[0]}"
      ntuple:
        - flowType: udp4
          dst: 10.0.0.1
          dstPort: 4789
          queue: 1
PROFILE
nt ntuple-plan.txt plan "$W/ntuple.yaml"
[ "$NT_RC" -ne 0 ] || fail "plan of an ntuple rule on the igb (ntuple-filters: off [fixed]) exited 0"
grep -q 'this NIC has no ntuple filters' "$W/ntuple-plan.txt" "$W/ntuple-plan.txt.err" ||
	fail "plan of an ntuple rule on the igb did not say 'this NIC has no ntuple filters': $(tail -n2 "$W/ntuple-plan.txt.err")"
grep -q "ntuple.yaml:[0-9]*:[0-9]" "$W/ntuple-plan.txt" "$W/ntuple-plan.txt.err" ||
	fail "the refusal does not point at the profile's file:line:col: $(tail -n2 "$W/ntuple-plan.txt.err")"
igb_state | diff -u "$W/igb-before.txt" - >/dev/null || fail "a refused plan changed the igb"
log "ok: plan refused the ntuple rule on the igb: $(grep -h 'no ntuple filters' "$W/ntuple-plan.txt" "$W/ntuple-plan.txt.err" | head -n1)"

cat >"$W/rss.yaml" <<PROFILE
apiVersion: nettune/v1
kind: Profile
metadata:
  name: e2e-rss
spec:
  nics:
    - match:
        pci: "${NICS[0]}"
      rss:
        weights: [3, 1]
        hashFunction: toeplitz
        flowHash:
          udp4: sdfn
          udp6: sdfn
PROFILE
nt rss-plan.json plan -o json "$W/rss.yaml"
want_rc 0 "plan of igb rss weights, hash function and rx-flow-hash"
nt rss-apply.json apply --yes -o json "$W/rss.yaml"
want_rc 0 "apply of igb rss weights, hash function and rx-flow-hash"
ethtool -x "$ig" >"$W/igb-x.txt"
q0=$(awk '/^ +[0-9]+:/ {for (i = 2; i <= NF; i++) if ($i == 0) n++} END {print n + 0}' "$W/igb-x.txt")
q1=$(awk '/^ +[0-9]+:/ {for (i = 2; i <= NF; i++) if ($i == 1) n++} END {print n + 0}' "$W/igb-x.txt")
[ "$q0" = 96 ] && [ "$q1" = 32 ] || fail "after apply of weights 3 1: ethtool -x has $q0 entries on queue 0 and $q1 on queue 1, want 96 and 32"
ethtool -n "$ig" rx-flow-hash udp4 | grep -q 'L4 bytes 0 & 1' ||
	fail "after apply of udp4 sdfn: ethtool -n $ig rx-flow-hash udp4 does not hash the ports: $(ethtool -n "$ig" rx-flow-hash udp4 | tr '\n' ' ')"
log "ok: igb table 96/32 on queues 0/1, udp4 hashes the L4 ports"
nt rss-check.json check --diagnostics=false -o json "$W/rss.yaml"
want_rc 0 "nettune check after apply of igb rss"
check "check after igb rss apply" check -file "$W/rss-check.json" -status ok
nt rss-revert.json revert --all --yes -o json
want_rc 0 "nettune revert --all of igb rss"
igb_state >"$W/igb-after.txt"
diff -u "$W/igb-before.txt" "$W/igb-after.txt" >"$W/igb-diff.txt" ||
	fail "after revert: the igb's RSS table or rx-flow-hash differ: $(grep '^[-+][^-+]' "$W/igb-diff.txt" | head -n 4 | tr '\n' ' ')"
log "ok: igb ethtool -x and rx-flow-hash udp4/udp6/tcp4 as before apply"
ip link set "$ig" down || fail "cannot set $ig down"
trap - EXIT

[ "$(cat /sys/devices/system/cpu/isolated)" = 1 ] ||
	fail "the guest was not booted with CPU 1 isolated (isolated: '$(cat /sys/devices/system/cpu/isolated)')"
vn=$(ifaces "${NICS[1]}")
[ -n "$vn" ] || fail "no interface on the virtio-net ${NICS[1]}"
revert_all_on_exit

masks() {
	local f m
	for f in /sys/class/net/"$vn"/queues/rx-*/rps_cpus /sys/class/net/"$vn"/queues/tx-*/xps_cpus \
		/sys/class/net/"$vn"/{napi_defer_hard_irqs,gro_flush_timeout,threaded}; do
		read -r m <"$f"
		echo "${f#/sys/class/net/}: $m"
	done
}
masks >"$W/before.txt"
indent '  | ' "$W/before.txt"

prof=$W/steering.yaml
cat >"$prof" <<PROFILE
apiVersion: nettune/v1
kind: Profile
metadata:
  name: e2e-steering
spec:
  nics:
    - match:
        pci: "${NICS[1]}"
      rps:
        cpus: "0-1"
      xps:
        cpus: "0-1"
        spread: true
      groFlushTimeout: 20us
      napiDeferHardIrqs: 2
      threadedNapi: true
PROFILE

nt plan.json plan -o json "$prof"
if [ "$NT_RC" -ne 0 ]; then
	grep -qiE 'isolat|housekeeping|nohz' "$W/plan.json" "$W/plan.json.err" ||
		fail "plan of RPS/XPS on the isolated CPU 1 was refused without saying why: $(tail -n1 "$W/plan.json.err")"
	log "ok: plan refused RPS/XPS on the isolated CPU 1 (exit $NT_RC)"
	masks | diff -u "$W/before.txt" - >/dev/null || fail "a refused plan changed rps_cpus/xps_cpus"
	exit 0
fi
grep -qiE 'isolat|housekeeping|nohz' "$W/plan.json" "$W/plan.json.err" ||
	fail "plan of RPS/XPS with the isolated CPU 1 exited 0 without a warning about it"

nt apply.json apply --yes -o json "$prof"
want_rc 0 "apply of RPS/XPS over CPUs 0-1 with CPU 1 isolated"
n=0
for f in /sys/class/net/"$vn"/queues/rx-*/rps_cpus; do
	read -r m <"$f"
	m=$((16#${m//,/}))
	log "  ${f#/sys/class/net/}: $(printf '%x' "$m")"
	((m & 1)) || fail "after apply: ${f#/sys/class/net/} is $(printf '%x' "$m"): CPU 0 missing"
	((m & 2)) && fail "after apply: ${f#/sys/class/net/} is $(printf '%x' "$m"): holds the isolated CPU 1"
	n=$((n + 1))
done
[ "$n" -ge 2 ] || fail "the virtio-net has $n rx queues, want at least 2"
for f in /sys/class/net/"$vn"/queues/tx-*/xps_cpus; do
	log "  ${f#/sys/class/net/}: $(cat "$f")"
done
# NAPI (issue 15): virtio_net registers its NAPI instances at probe, so
# threaded is accepted; each instance gets a napi/<if>-<id> thread.
napi="$(cat /sys/class/net/"$vn"/napi_defer_hard_irqs) $(cat /sys/class/net/"$vn"/gro_flush_timeout) $(cat /sys/class/net/"$vn"/threaded)"
[ "$napi" = "2 20000 1" ] || fail "after apply: napi_defer_hard_irqs gro_flush_timeout threaded = '$napi', want '2 20000 1'"
threads=0
for c in /proc/[0-9]*/comm; do
	case "$(cat "$c" 2>/dev/null)" in "napi/$vn-"*)
		threads=$((threads + 1))
		log "  $(cat "$c"): $(grep Cpus_allowed_list "${c%comm}status" 2>/dev/null)" ;;
	esac
done
[ "$threads" -ge 1 ] || fail "threaded reads 1 but no napi/$vn-* thread runs"
log "ok: NAPI settings applied ($napi), $threads napi/$vn-* thread(s)"
nt check.json check --diagnostics=false -o json "$prof"
want_rc 0 "nettune check after apply of RPS/XPS"
check "check after apply" check -file "$W/check.json" -status ok

nt revert.json revert --all --yes -o json
want_rc 0 "nettune revert --all"
masks >"$W/after.txt"
diff -u "$W/before.txt" "$W/after.txt" >"$W/diff.txt" ||
	fail "after revert: rps_cpus/xps_cpus differ: $(grep '^[-+][^-+]' "$W/diff.txt" | head -n 4 | tr '\n' ' ')"
log "ok: rps_cpus, xps_cpus and the NAPI files as before apply"
