#!/bin/bash
# Scenario 11 (boot mq): coalescing parameters the igb driver does not
# support (rx-frames; adaptive-rx, which ethtool shows as "n/a", not "off")
# are refused at plan, or left out of the plan with a warning naming them.
# Never planned and left to fail at apply. When left out, apply exits 0 and
# ethtool -c shows the coalescing unchanged.
. /job/guest/lib.sh
need_cmd plan apply revert

ig=$(ifaces "${NICS[0]}")
[ -n "$ig" ] || fail "no interface on the igb ${NICS[0]}"
revert_all_on_exit
ethtool -c "$ig" >"$W/igb-coalesce.txt"
indent '  | ' "$W/igb-coalesce.txt"
grep -q '^Adaptive RX: n/a' "$W/igb-coalesce.txt" || fail "igb: ethtool -c does not show 'Adaptive RX: n/a'"
grep -q '^rx-frames: n/a' "$W/igb-coalesce.txt" || fail "igb: ethtool -c does not show 'rx-frames: n/a'"

unsupported() {
	local name=$1 key=$2 value=$3 words=$4 f=$W/unsupported-$1.yaml
	cat >"$f" <<PROFILE
apiVersion: nettune/v1
kind: Profile
metadata:
  name: e2e-unsupported-$name
spec:
  nics:
    - match:
        pci: "${NICS[0]}"
      coalesce:
        $key: $value
PROFILE
	nt "plan-unsupported-$name.json" plan -o json "$f"
	if [ "$NT_RC" -ne 0 ]; then
		grep -qiE "$words" "$W/plan-unsupported-$name.json" "$W/plan-unsupported-$name.json.err" ||
			fail "plan of igb coalesce $key was refused without naming it ($words): $(tail -n1 "$W/plan-unsupported-$name.json.err")"
		log "ok: igb coalesce $key refused at plan (exit $NT_RC)"
		return
	fi
	# Not refused: then it must not be planned, and a warning says why.
	if grep -qiE "\"attribute\": *\"coalesce\"" "$W/plan-unsupported-$name.json" &&
		grep -iE "\"after\": *\"[^\"]*($words)" "$W/plan-unsupported-$name.json" >/dev/null; then
		fail "plan of igb coalesce $key (which the igb driver does not support) exited 0 and planned the change: apply would fail"
	fi
	grep -qiE "$words" "$W/plan-unsupported-$name.json" "$W/plan-unsupported-$name.json.err" ||
		fail "plan of igb coalesce $key (unsupported by igb) exited 0 without a word about it"
	nt "apply-unsupported-$name.json" apply --yes -o json "$f"
	want_rc 0 "apply of a profile whose unsupported igb coalesce $key the plan left out"
	ethtool -c "$ig" | diff -u "$W/igb-coalesce.txt" - >"$W/diff-unsupported-$name.txt" ||
		fail "apply of the unsupported igb coalesce $key changed the coalescing: $(grep '^[-+][^-+]' "$W/diff-unsupported-$name.txt" | tr '\n' ' ')"
	nt "revert-unsupported-$name.json" revert --all --yes -o json
	log "ok: igb coalesce $key left out of the plan with a warning"
}
unsupported rx-frames rxFrames 16 'rx-?frames|rxFrames|rx-max-frames'
unsupported adaptive-rx adaptiveRx true 'adaptive-?rx|adaptiveRx'
