#!/usr/bin/env bash
# bench-kernel-vs-bypass.sh: the kernel's own IPv4 forwarding against the
# forwarder on AF_PACKET and AF_XDP, on one veth/namespace setup, with the
# generator's own ceiling and the forwarder on net_null as the bounds
# (issue 15; results and what this machine can show: docs/kernel-vs-bypass.md).
#
#   nt-kvb-gen            nt-kvb-fwd (the device under test)         nt-kvb-sink
#   kg0 10.91.0.1 <-veth-> kf0 10.91.0.2 | kf1 10.92.0.2 <-veth-> ks0 10.92.0.1
#
# The generator, dpdk-testpmd in txonly mode on net_af_packet (a
# PACKET_MMAP ring, qdisc bypassed) on kg0, sends 64-byte IPv4/UDP frames
# from 10.91.0.1 to 10.92.0.1, addressed to kf0's MAC, from GEN_CPU
# (GEN=fwdtest uses fwdtest send instead: one frame per system call). Every mode is measured the same way: the frames
# that reach ks0 (its rx_packets in the sink namespace) per second, the
# median of ROUNDS runs of DURATION seconds.
#
#   ceiling     nothing forwards: the frames kf0 receives per second, what
#               the generator delivers into the device under test
#   kernel      ip_forward in nt-kvb-fwd, RPS moving kf0's receive
#               processing to DUT_CPU (veth hands frames to the sending
#               CPU's backlog: without RPS the generator's CPU forwards)
#   kernel-cpu0 ip_forward without RPS: forwarding on the generator's CPU
#   afpacket    the forwarder (io mode), net_af_packet on kf0 and kf1, its
#               worker on DUT_CPU; kf0's receive processing (into the
#               packet ring) on the generator's CPU, as in kernel-cpu0
#   afpacket-rps the same with kernel's RPS: that processing on DUT_CPU,
#               next to the worker
#   afxdp       the same on net_af_xdp (an XDP program on kf0 and kf1)
#   null        the forwarder between two net_null ports: no kernel, no
#               generator (its own forwarded rate), the upper bound
#
# Usage: scripts/bench-kernel-vs-bypass.sh [MODE...]  (default: all, in the
#   order above)
# Environment: ROUNDS (3), DURATION seconds (5), GEN_CPU (0), DUT_CPU (1),
#   OUT (logs; default a temp dir). Needs root, dpdk (its af_packet and
#   af_xdp PMDs) and Go. Changes nothing outside the three namespaces it
#   creates and deletes.
set -euo pipefail
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
GEN_CPU=${GEN_CPU:-0}
DUT_CPU=${DUT_CPU:-1}
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d /tmp/bench-kvb.XXXXXX)}
mkdir -p "$OUT"
MODES=("$@")
[ ${#MODES[@]} -gt 0 ] || MODES=(ceiling kernel kernel-cpu0 afpacket afpacket-rps afxdp null)
[ "$(id -u)" = 0 ] || { echo "bench-kernel-vs-bypass: needs root (network namespaces)" >&2; exit 1; }

TESTPMD=${TESTPMD:-dpdk-testpmd}
command -v "$TESTPMD" >/dev/null || { echo "bench-kernel-vs-bypass: $TESTPMD not found (apt-get install dpdk)" >&2; exit 1; }
FWD=$OUT/fwdtest
go build -o "$FWD" ./pkg/dataplane/internal/fwdtest

G=nt-kvb-gen F=nt-kvb-fwd S=nt-kvb-sink
GEN_PID=
cleanup() {
	stop_gen
	for n in $G $F $S; do ip netns del "$n" 2>/dev/null || true; done
}
stop_gen() {
	if [ -n "$GEN_PID" ]; then kill -INT "$GEN_PID" 2>/dev/null || true; wait "$GEN_PID" 2>/dev/null || true; fi
	GEN_PID=
	rmdir "/var/run/dpdk/kvbgen$$" 2>/dev/null || true
}
trap cleanup EXIT
cleanup
for n in $G $F $S; do
	ip netns add "$n"
	ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
ip link add kg0 netns $G type veth peer name kf0 netns $F
ip link add ks0 netns $S type veth peer name kf1 netns $F
ip -n $G addr add 10.91.0.1/24 dev kg0
ip -n $F addr add 10.91.0.2/24 dev kf0
ip -n $F addr add 10.92.0.2/24 dev kf1
ip -n $S addr add 10.92.0.1/24 dev ks0
for x in $G:kg0 $F:kf0 $F:kf1 $S:ks0; do ip -n "${x%%:*}" link set "${x#*:}" up; done
mac() { ip -n "$1" -o link show "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }
KF0=$(mac $F kf0)
ip -n $F neigh replace 10.92.0.1 lladdr "$(mac $S ks0)" dev kf1 nud permanent
for n in all default kf0 kf1; do ip netns exec $F sysctl -qw "net.ipv4.conf.$n.rp_filter=0"; done
# DUT_CPU as a mask for rps_cpus (sysfs of the fwd namespace).
RPS_MASK=$(printf '%x' $((1 << DUT_CPU)))

start_gen() {
	if [ "${GEN:-testpmd}" = fwdtest ]; then
		ip netns exec $G taskset -c "$GEN_CPU" "$FWD" send -iface kg0 -count 2000000000 -ip 10.91.0.1,10.92.0.1 -dst "$KF0" \
			>"$OUT/gen.log" 2>&1 &
		GEN_PID=$!
		sleep 0.5
		return
	fi
	ip netns exec $G "$TESTPMD" --lcores "0@$GEN_CPU,1@$GEN_CPU" --main-lcore 0 --no-huge --no-shconf -m 256 --file-prefix "kvbgen$$" --no-pci \
		--vdev "net_af_packet0,iface=kg0,qdisc_bypass=1" -- --forward-mode=txonly --tx-ip=10.91.0.1,10.92.0.1 --eth-peer="0,$KF0" \
		--txpkts=64 --burst=32 --total-num-mbufs=8191 --stats-period 1 --auto-start </dev/null >"$OUT/gen.log" 2>&1 &
	GEN_PID=$!
	sleep 3 # EAL, port and the first bursts
}
counter() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }

# rate NS IF COUNTER: packets per second of a counter over DURATION, in Mpps.
rate() {
	local a b
	a=$(counter "$1" "$2" "$3")
	sleep "$DURATION"
	b=$(counter "$1" "$2" "$3")
	awk -v a="$a" -v b="$b" -v d="$DURATION" 'BEGIN { printf "%.3f", (b - a) / d / 1e6 }'
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

kernel_forwarding() {
	ip netns exec $F sysctl -qw net.ipv4.ip_forward="$1"
	ip netns exec $F sh -c "echo $2 > /sys/class/net/kf0/queues/rx-0/rps_cpus"
}

# forwarder LOG VDEV0 VDEV1: the forwarder in io mode in the fwd namespace,
# its worker on DUT_CPU, its main lcore on GEN_CPU; prints the sink rate
# measured while it runs.
forwarder() {
	local log=$1 v0=$2 v1=$3
	ip netns exec $F "$FWD" run -mode io -workers "$DUT_CPU" -main "$GEN_CPU" -no-huge -m 512 \
		-vdev "$v0" -vdev "$v1" -duration "$((DURATION + 4))s" -file-prefix "kvb$$" >"$log" 2>&1 &
	local pid=$!
	sleep 2.5 # EAL and ports up before the window
	local r
	r=$(rate $S ks0 rx_packets)
	wait "$pid" || echo "bench-kernel-vs-bypass: forwarder failed, see $log" >&2
	rmdir "/var/run/dpdk/kvb$$" 2>/dev/null || true
	echo "$r"
}

run_mode() {
	local mode=$1 round=$2
	case $mode in
	ceiling)
		kernel_forwarding 0 0
		start_gen; rate $F kf0 rx_packets; stop_gen ;;
	kernel)
		kernel_forwarding 1 "$RPS_MASK"
		start_gen; rate $S ks0 rx_packets; stop_gen
		kernel_forwarding 0 0 ;;
	kernel-cpu0)
		kernel_forwarding 1 0
		start_gen; rate $S ks0 rx_packets; stop_gen
		kernel_forwarding 0 0 ;;
	afpacket | afpacket-rps)
		kernel_forwarding 0 "$([ "$mode" = afpacket-rps ] && echo "$RPS_MASK" || echo 0)"
		start_gen; forwarder "$OUT/$mode-$round.log" net_af_packet0,iface=kf0 net_af_packet1,iface=kf1; stop_gen
		kernel_forwarding 0 0 ;;
	afxdp)
		kernel_forwarding 0 0
		start_gen; forwarder "$OUT/afxdp-$round.log" net_af_xdp0,iface=kf0 net_af_xdp1,iface=kf1; stop_gen ;;
	null)
		"$FWD" run -mode io -workers "$DUT_CPU" -main "$GEN_CPU" -no-huge -m 512 -vdev net_null0 -vdev net_null1 \
			-duration "$((DURATION + 1))s" -file-prefix "kvb$$" >"$OUT/null-$round.log" 2>&1
		rmdir "/var/run/dpdk/kvb$$" 2>/dev/null || true
		# the per-second rate lines after the first; median, in Mpps
		grep '^rate:' "$OUT/null-$round.log" | awk 'NR>1 {print $2}' | median ;;
	*) echo "unknown mode $mode (want ceiling kernel kernel-cpu0 afpacket afpacket-rps afxdp null)" >&2; exit 2 ;;
	esac
}

declare -A RES
for mode in "${MODES[@]}"; do
	vals=()
	for r in $(seq 1 "$ROUNDS"); do
		v=$(run_mode "$mode" "$r")
		vals+=("$v")
		printf '%-12s round %d: %s Mpps\n' "$mode" "$r" "$v"
	done
	RES[$mode]="$(echo "${vals[*]}" | median) (rounds: ${vals[*]})"
done

echo
echo "date: $(date -Is)  host: $(uname -r), $(nproc) cpus, $(lscpu | sed -n 's/^Model name: *//p')"
echo "dpdk: $(pkg-config --modversion libdpdk)  duration ${DURATION}s  rounds $ROUNDS  generator cpu $GEN_CPU  device-under-test cpu $DUT_CPU"
echo "median Mpps of 64-byte IPv4/UDP frames reaching the sink (ceiling: reaching the device under test; null: the forwarder's own rate):"
for mode in "${MODES[@]}"; do printf '  %-12s %s\n' "$mode" "${RES[$mode]}"; done
echo "logs: $OUT"
