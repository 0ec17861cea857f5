#!/usr/bin/env bash
# bench-dataplane.sh: compare nettune's DPDK forwarder (pkg/dataplane)
# with dpdk-testpmd and DPDK's l2fwd example on the same vdevs, cores,
# options and duration.
#
# Usage: scripts/bench-dataplane.sh [null] [ring] [afpacket]   (default: all)
# Environment: ROUNDS (3), DURATION seconds per run (6), MAIN_CPU (0),
#   WORKER_CPU (1), BURST (32), DESC (1024), MODES ("io mac"),
#   TESTPMD (dpdk-testpmd), OUT (directory for raw logs, default a temp dir),
#   L2FWD (1: also run l2fwd, 0: do not; default 1).
#
# l2fwd is built from the dpdk-doc package's examples
# (/usr/share/dpdk/examples/l2fwd) with pkg-config libdpdk; the script
# installs dpdk-doc (about 10 MB) when it is missing and it runs as root.
# l2fwd runs one lcore, pinned to WORKER_CPU, that forwards both ports and
# prints its counters every second (-T 1); its rate is the per-second
# difference of "Total packets sent". It has no burst, pool or tx-first
# options (burst 32, its own pool size): it runs in io mode as
# --no-mac-updating, in mac mode with its MAC rewriting, and not in the
# ring scenario (nothing would circulate without tx-first).
#
# Each run samples the forwarding rate once a second (nettune: the sum of
# the ports' tx rates; testpmd: the sum of the ports' Tx-pps) and reports
# the median of the samples after the first; a scenario reports the median
# of its rounds. Runs alternate between the two programs, and the order flips
# every round. The afpacket scenario needs root (network namespaces); it
# creates namespaces nt-bench-{gen,fwd,sink} and deletes them on exit.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-6}
MAIN_CPU=${MAIN_CPU:-0}
WORKER_CPU=${WORKER_CPU:-1}
BURST=${BURST:-32}
DESC=${DESC:-1024}
MODES=${MODES:-io mac}
TESTPMD=${TESTPMD:-dpdk-testpmd}
MEM=${MEM:-512}
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d /tmp/bench-dataplane.XXXXXX)}
mkdir -p "$OUT"
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(null ring afpacket)

command -v "$TESTPMD" >/dev/null || { echo "bench-dataplane: $TESTPMD not found (apt-get install dpdk)" >&2; exit 1; }
FWD=$OUT/fwdtest
go build -o "$FWD" ./pkg/dataplane/internal/fwdtest
# The mbuf pool size nettune computes for this layout, given to testpmd too.
POOL=${POOL:-8191}

L2FWD=${L2FWD:-1}
L2FWD_BIN=
if [ "$L2FWD" = 1 ]; then
	src=/usr/share/dpdk/examples/l2fwd/main.c
	if [ ! -f "$src" ] && [ "$(id -u)" = 0 ]; then
		echo "bench-dataplane: installing dpdk-doc for the l2fwd example" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpdk-doc >/dev/null 2>&1 || true
	fi
	if [ -f "$src" ] && cc -O3 "$src" $(pkg-config --cflags libdpdk) -o "$OUT/l2fwd" $(pkg-config --libs libdpdk) 2>"$OUT/l2fwd-build.log"; then
		L2FWD_BIN=$OUT/l2fwd
	else
		echo "bench-dataplane: l2fwd skipped: no $src (apt-get install dpdk-doc) or it did not build (see $OUT/l2fwd-build.log)" >&2
	fi
fi

# median (in Mpps) of the nonzero per-second samples on stdin, skipping
# the first (partial) one and using at most DURATION-1 samples: a median
# because this kind of machine (a VM) has seconds with stolen time.
mean_after_first() {
	awk -v max=$((DURATION - 1)) '$1>0 {k++; if (k>1 && n<max) {print $1; n++}}' |
		sort -g | awk '{a[NR]=$1} END {if (!NR) {print "nan"; exit}; m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f", m/1e6}'
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

EAL_COMMON=(--lcores "0@${MAIN_CPU},1@${WORKER_CPU}" --main-lcore 0 --no-huge --no-shconf -m "$MEM")

# run_nettune LOG MODE PREFIX [NS] -- fwdtest run args
run_nettune() {
	local log=$1 mode=$2 prefix=$3 ns=$4; shift 5
	local cmd=("$FWD" run -mode "$mode" -workers "$WORKER_CPU" -main "$MAIN_CPU" -no-huge -m "$MEM"
		-burst "$BURST" -rxd "$DESC" -txd "$DESC" -duration "${DURATION}s" -file-prefix "$prefix" "$@")
	if [ -n "$ns" ]; then cmd=(ip netns exec "$ns" "${cmd[@]}"); fi
	echo "+ ${cmd[*]}" >"$log"
	"${cmd[@]}" >>"$log" 2>&1
	grep '^rate:' "$log" | awk '{printf "%.0f\n", $2*1e6}' | mean_after_first
}

# run_testpmd LOG MODE PREFIX [NS] -- eal vdev args -- testpmd extra args
run_testpmd() {
	local log=$1 mode=$2 prefix=$3 ns=$4; shift 5
	local eal=() extra=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do eal+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	extra=("$@")
	local cmd=("$TESTPMD" "${EAL_COMMON[@]}" --file-prefix "$prefix" --no-pci "${eal[@]}" --
		--forward-mode="$mode" --burst="$BURST" --rxd="$DESC" --txd="$DESC" --mbcache=256
		--total-num-mbufs="$POOL" --stats-period 1 --auto-start "${extra[@]}")
	if [ -n "$ns" ]; then cmd=(ip netns exec "$ns" "${cmd[@]}"); fi
	echo "+ ${cmd[*]}" >"$log"
	# testpmd prints the rate of the last period every second; its
	# start-up (pool, ports) takes a few seconds more than nettune's, so
	# it runs longer and the same number of samples is used.
	timeout -s INT $((DURATION + 3)) "${cmd[@]}" </dev/null >>"$log" 2>&1 || true
	# testpmd leaves its (empty) runtime dir behind.
	rmdir "/var/run/dpdk/$prefix" 2>/dev/null || true
	awk '/Tx-pps:/ {v+=$2; n++; if (n==NP) {print v; v=0; n=0}}' NP="$NPORTS" "$log" | mean_after_first
}

# run_l2fwd LOG MODE PREFIX [NS] -- eal vdev args
run_l2fwd() {
	local log=$1 mode=$2 prefix=$3 ns=$4; shift 5
	local app=(-p 0x3 -q 2 -T 1)
	[ "$mode" = io ] && app+=(--no-mac-updating)
	local cmd=("$L2FWD_BIN" --lcores "0@${WORKER_CPU}" --no-huge --no-shconf -m "$MEM" --file-prefix "$prefix" --no-pci "$@" -- "${app[@]}")
	if [ -n "$ns" ]; then cmd=(ip netns exec "$ns" "${cmd[@]}"); fi
	echo "+ ${cmd[*]}" >"$log"
	timeout -s INT $((DURATION + 2)) "${cmd[@]}" </dev/null >>"$log" 2>&1 || true
	rmdir "/var/run/dpdk/$prefix" 2>/dev/null || true
	awk '/Total packets sent:/ {if (seen) print $4-prev; prev=$4; seen=1}' "$log" | mean_after_first
}

RESULTS=()
# compare NAME NS NETTUNE_ARGS... -- TESTPMD_EAL... -- TESTPMD_EXTRA...
# (l2fwd, when built and L2FWD_SCENARIO is 1, gets TESTPMD_EAL)
compare() {
	local name=$1 ns=$2; shift 2
	local nargs=() rest=() l2eal=()
	while [ "$1" != "--" ]; do nargs+=("$1"); shift; done
	shift
	rest=("$@")
	for a in "${rest[@]}"; do [ "$a" = "--" ] && break; l2eal+=("$a"); done
	for mode in $MODES; do
		local nt=() tp=() l2=()
		for r in $(seq 1 "$ROUNDS"); do
			local a b
			if [ $((r % 2)) -eq 1 ]; then
				[ -n "${PRE_RUN:-}" ] && $PRE_RUN
				a=$(run_nettune "$OUT/$name-$mode-nettune-$r.log" "$mode" "ntb$$" "$ns" -- "${nargs[@]}")
				[ -n "${PRE_RUN:-}" ] && $PRE_RUN
				b=$(run_testpmd "$OUT/$name-$mode-testpmd-$r.log" "$mode" "tpb$$" "$ns" -- "${rest[@]}")
			else
				[ -n "${PRE_RUN:-}" ] && $PRE_RUN
				b=$(run_testpmd "$OUT/$name-$mode-testpmd-$r.log" "$mode" "tpb$$" "$ns" -- "${rest[@]}")
				[ -n "${PRE_RUN:-}" ] && $PRE_RUN
				a=$(run_nettune "$OUT/$name-$mode-nettune-$r.log" "$mode" "ntb$$" "$ns" -- "${nargs[@]}")
			fi
			local c=nan
			if [ -n "$L2FWD_BIN" ] && [ "${L2FWD_SCENARIO:-1}" = 1 ]; then
				[ -n "${PRE_RUN:-}" ] && $PRE_RUN
				c=$(run_l2fwd "$OUT/$name-$mode-l2fwd-$r.log" "$mode" "l2b$$" "$ns" -- "${l2eal[@]}")
			fi
			[ -n "${POST_RUN:-}" ] && $POST_RUN
			nt+=("$a"); tp+=("$b"); l2+=("$c")
			printf '%-9s %-3s round %d: nettune %8s Mpps  testpmd %8s Mpps  l2fwd %8s Mpps\n' "$name" "$mode" "$r" "$a" "$b" "$c"
		done
		local mn mt ml
		mn=$(echo "${nt[*]}" | median)
		mt=$(echo "${tp[*]}" | median)
		ml=nan
		[ "${l2[0]}" != nan ] && ml=$(echo "${l2[*]}" | median)
		ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.3f", a/b; else print "nan"}'; }
		RESULTS+=("$(printf '%-9s %-3s nettune %8s  testpmd %8s  ratio %s  l2fwd %8s  ratio %s   (rounds: nettune %s; testpmd %s; l2fwd %s)' \
			"$name" "$mode" "$mn" "$mt" "$(ratio "$mn" "$mt")" "$ml" "$(ratio "$mn" "$ml")" \
			"${nt[*]}" "${tp[*]}" "${l2[*]}")")
	done
}

cleanup_ns() {
	for n in gen fwd sink; do ip netns del "nt-bench-$n" 2>/dev/null || true; done
	[ -n "${GEN_PID:-}" ] && kill "$GEN_PID" 2>/dev/null || true
}

for sc in "${SCENARIOS[@]}"; do
	case $sc in
	null)
		NPORTS=2
		compare null "" -vdev net_null0 -vdev net_null1 -- --vdev net_null0 --vdev net_null1 --
		;;
	ring)
		# Two looped ring ports (tx comes back on rx); packets injected by
		# tx-first circulate between them.
		NPORTS=2
		L2FWD_SCENARIO=0 compare ring "" -vdev net_ring0,nodeaction=r0:0:CREATE -vdev net_ring1,nodeaction=r1:0:CREATE -tx-first -- \
			--vdev net_ring0,nodeaction=r0:0:CREATE --vdev net_ring1,nodeaction=r1:0:CREATE -- --tx-first
		;;
	afpacket)
		if [ "$(id -u)" != 0 ]; then echo "afpacket: skipped (needs root)"; continue; fi
		trap cleanup_ns EXIT
		cleanup_ns
		for n in gen fwd sink; do ip netns add "nt-bench-$n"; done
		ip link add nb-g0 netns nt-bench-gen type veth peer name nb-f0 netns nt-bench-fwd
		ip link add nb-s0 netns nt-bench-sink type veth peer name nb-f1 netns nt-bench-fwd
		for pair in gen:nb-g0 fwd:nb-f0 fwd:nb-f1 sink:nb-s0; do
			n=${pair%%:*} i=${pair#*:}
			ip netns exec "nt-bench-$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
			ip -n "nt-bench-$n" link set "$i" up
		done
		NPORTS=2
		# The generator (a raw-socket sender, much slower than the
		# forwarder) runs in nt-bench-gen during each run, sharing the main
		# cpu; rates are what the forwarder achieves under that load.
		start_gen() { ip netns exec nt-bench-gen taskset -c "$MAIN_CPU" "$FWD" send -iface nb-g0 -count 100000000 >/dev/null 2>&1 & GEN_PID=$!; sleep 0.3; }
		stop_gen() { if [ -n "${GEN_PID:-}" ]; then kill "$GEN_PID" 2>/dev/null || true; wait "$GEN_PID" 2>/dev/null || true; fi; GEN_PID=; }
		run_af() {
			local prev=${PRE_RUN:-}
			PRE_RUN="stop_gen_start" POST_RUN=stop_gen \
				compare afpacket nt-bench-fwd -vdev net_af_packet0,iface=nb-f0 -vdev net_af_packet1,iface=nb-f1 -- \
				--vdev net_af_packet0,iface=nb-f0 --vdev net_af_packet1,iface=nb-f1 --
			PRE_RUN=$prev
		}
		stop_gen_start() { stop_gen; start_gen; }
		run_af
		cleanup_ns
		trap - EXIT
		;;
	*) echo "unknown scenario $sc (want null, ring or afpacket)" >&2; exit 2 ;;
	esac
done

echo
echo "date: $(date -Is)  host: $(uname -r), $(nproc) cpus, $(lscpu | sed -n 's/^Model name: *//p')"
echo "dpdk: $(pkg-config --modversion libdpdk)  burst $BURST  desc $DESC  duration ${DURATION}s  rounds $ROUNDS  main cpu $MAIN_CPU  worker cpu $WORKER_CPU"
echo "median Mpps (forwarded packets per second, all ports); ratios are nettune's over testpmd's and over l2fwd's:"
printf '%s\n' "${RESULTS[@]}"
echo "logs: $OUT"
