# shellcheck shell=bash
# run_scenarios BOOT AFTER ON_FAIL (sourced by init.sh and systemd.sh): runs
# the scenarios of the boot, listed in /job/boots/BOOT, one by one, and
# records a result for each in /job/results/BOOT/<scenario>.result:
#
#   PASS
#   FAIL <reason>
#   SKIP <reason>
#
# with the scenario's full output in <scenario>.log, its run time in
# <scenario>.secs. A scenario ends in exit 0, in fail (1) or skip (77) of
# lib.sh with its reason in <scenario>.reason, or in the timeout.
# AFTER SCENARIO runs once the scenario ran, with its result in RESULT,
# which it may change (init.sh checks the NICs are back where they were;
# a variable, not a command substitution: under TCG each fork costs tens of
# milliseconds); ON_FAIL SCENARIO prints what helps a post-mortem, appended
# to a failed scenario's log. Returns 1 when a scenario failed.
run_scenarios() {
	local boot=$1 after=$2 on_fail=$3
	local res=/job/results/$boot failed=0 s start rc reason
	mkdir -p "$res"
	for s in $(cat "/job/boots/$boot"); do
		start=$(date +%s)
		rm -f "$res/$s.reason"
		echo "=== $s"
		E2E_SCENARIO=$s E2E_RESULTS=$res timeout -k 10 "${SCENARIO_TIMEOUT:-300}" \
			bash "/job/guest/$s.sh" >"$res/$s.log" 2>&1
		rc=$?
		reason=$(cat "$res/$s.reason" 2>/dev/null)
		case $rc in
		0) RESULT=PASS ;;
		77) RESULT="SKIP ${reason:-no reason given}" ;;
		124 | 137) RESULT="FAIL timed out after ${SCENARIO_TIMEOUT:-300} s${reason:+ ($reason)}" ;;
		*) RESULT="FAIL ${reason:-exit status $rc}" ;;
		esac
		"$after" "$s"
		case $RESULT in
		FAIL*)
			failed=1
			"$on_fail" "$s" >>"$res/$s.log" 2>&1
			;;
		esac
		echo "$RESULT" >"$res/$s.result"
		echo $(($(date +%s) - start)) >"$res/$s.secs"
		echo "=== $s: $RESULT ($(($(date +%s) - start)) s)"
	done
	return $failed
}
