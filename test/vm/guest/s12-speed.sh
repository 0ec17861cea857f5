#!/bin/bash
# Scenario 12: how long 'nettune devices' takes next to
# 'dpdk-devbind.py --status' in the guest, runs alternating, pairwise
# ratio. It measures and reports (docs/performance.md); it does not judge:
# speed targets live in benchmarks, not tests. It fails only when either
# command fails.
. /job/guest/lib.sh
need_cmd devices
command -v dpdk-devbind.py >/dev/null || skip "dpdk-devbind.py is not installed"

RUNS=${E2E_SPEED_RUNS:-3}
nettune devices >/dev/null 2>&1 || fail "nettune devices failed"
dpdk-devbind.py --status >/dev/null 2>&1 || fail "dpdk-devbind.py --status failed"
a=() b=() r=() v=()
for _ in $(seq "$RUNS"); do
	t=${EPOCHREALTIME/./}
	nettune version >/dev/null 2>&1 || fail "nettune version failed"
	v+=($((${EPOCHREALTIME/./} - t)))
	t=${EPOCHREALTIME/./}
	nettune devices >/dev/null 2>&1 || fail "nettune devices failed"
	ta=$((${EPOCHREALTIME/./} - t))
	t=${EPOCHREALTIME/./}
	dpdk-devbind.py --status >/dev/null 2>&1 || fail "dpdk-devbind.py --status failed"
	tb=$((${EPOCHREALTIME/./} - t))
	a+=("$ta") b+=("$tb") r+=($((tb * 10 / (ta > 0 ? ta : 1))))
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
ma=$(median "${a[@]}") mb=$(median "${b[@]}") mr=$(median "${r[@]}") mv=$(median "${v[@]}")
msg=$(printf 'nettune devices %d ms, dpdk-devbind.py --status %d ms (medians of %d alternating runs): %d.%dx; nettune version %d ms' \
	$((ma / 1000)) $((mb / 1000)) "$RUNS" $((mr / 10)) $((mr % 10)) $((mv / 1000)))
subresult s12-speed-devices "PASS $msg"
