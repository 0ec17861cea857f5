#!/bin/bash
# Scenario 9 (boot mq, booted with CPU 1 isolated by profiles/mq-boot.yaml):
# RPS and XPS masks that name an isolated CPU. The kernel drops CPUs that
# are not housekeeping from RPS maps, so a plan that writes CPU 1 into
# rps_cpus would read back something else at apply and roll back. The plan
# must know: refuse, or take CPU 1 out with a warning. When it plans, apply
# exits 0, every rx queue's rps_cpus holds CPU 0 and not the isolated CPU 1,
# every tx queue's xps_cpus reads back what nettune says it set (check exits
# 0), and revert restores every rps_cpus and xps_cpus. The same profile sets
# the virtio-net's NAPI files (groFlushTimeout, napiDeferHardIrqs,
# threadedNapi: issue 15); revert restores them too.
. /job/guest/lib.sh
need_cmd plan apply check revert

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
