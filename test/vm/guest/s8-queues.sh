#!/bin/bash
# Scenario 8 (boot mq): queue settings on real multi-queue drivers, the igb
# (Intel 82576, 8 queue pairs, 128-entry RSS table) and a virtio-net with 4
# queue pairs, asserted against the kernel and against ethtool's output.
#
# The igb is up for the whole scenario: it requests its queue interrupts
# only then.
#
# 1. One profile: igb 4 combined channels, rings 512, rx/tx-usecs 100, RSS
#    spread over 2 queues; virtio-net 4 combined channels; every queue IRQ of
#    both pinned round-robin on CPUs 0-1. A channel change re-creates the
#    queue IRQs, so the first apply leaves the pinning to the second
#    (docs/nics.md). ethtool -l/-g/-c/-x show the values; each queue IRQ's
#    smp_affinity_list and effective_affinity_list show its CPU; check exits 0.
# 2. revert --all puts back what ethtool showed before (channels, rings,
#    coalescing, the RSS table) and the affinity of each IRQ of a queue in
#    use; then the RSS
#    table must be the driver's default again, not a hand-set copy of it:
#    `ethtool -L IF combined 1` must work.
. /job/guest/lib.sh
need_cmd plan apply check revert

ig=$(ifaces "${NICS[0]}")
vn=$(ifaces "${NICS[1]}")
[ -n "$ig" ] && [ -n "$vn" ] || fail "no interface on the igb ($ig) or the virtio-net ($vn)"
log "igb: $ig, virtio-net: $vn"
# The igb requests its queue interrupts when the interface comes up.
log "+ ip link set $ig up"
ip link set "$ig" up || fail "cannot set $ig up"
trap 'nettune revert --all --yes >/dev/null 2>&1; ip link set "$ig" down' EXIT

# queue_irqs IF: "NAME IRQ" for each queue vector of the interface, from
# /proc/interrupts (igb: IF-rx-N, IF-tx-N or IF-TxRx-N; virtio-net:
# virtioK-input.N, virtioK-output.N where virtioK is the NIC's virtio device).
queue_irqs() {
	local pat
	case $1 in
	"$ig") pat="^$1-(rx|tx|TxRx)-[0-9]+\$" ;;
	"$vn")
		local v=(/sys/bus/pci/devices/${NICS[1]}/virtio*)
		pat="^${v[0]##*/}-(input|output)\\.[0-9]+\$"
		;;
	esac
	awk -v pat="$pat" '$NF ~ pat { sub(":", "", $1); print $NF, $1 }' /proc/interrupts
}

# state: everything this scenario may change, as tools print it.
state() {
	local f n irq a c
	for f in -l -g -c -x; do
		echo "== ethtool $f $ig"
		ethtool "$f" "$ig" | tail -n +2
	done
	for f in -l -x; do
		echo "== ethtool $f $vn"
		ethtool "$f" "$vn" | tail -n +2
	done
	# The IRQs of the queues in use. A virtio-net keeps vectors for all
	# its queues, and on a channel change the driver itself spreads the
	# used ones over the CPUs and leaves the others where they were: the
	# idle vectors are not part of the NIC's settings.
	echo "== queue IRQ affinity"
	for f in "$ig" "$vn"; do
		c=$(current "$f" -l Combined)
		queue_irqs "$f" | while read -r n irq; do
			[ "${n##*[-.]}" -lt "$c" ] || continue
			read -r a <"/proc/irq/$irq/smp_affinity_list"
			echo "$n $a"
		done
	done
}

# current IF OPTION LABEL: LABEL's value in the "Current hardware settings"
# part of ethtool OPTION IF (-l, -g).
current() {
	ethtool "$2" "$1" | sed -n '/^Current hardware settings/,$p' | awk -v l="$3:" '$1 == l { print $2; exit }'
}
# coalesce IF LABEL: a value of ethtool -c IF.
coalesce() { ethtool -c "$1" | awk -v l="$2:" '$1 == l { print $2; exit }'; }
# rss_queues IF: the distinct queues of the RSS indirection table, sorted.
rss_queues() {
	ethtool -x "$1" | awk '/^ *[0-9]+: / { for (i = 2; i <= NF; i++) print $i }' | sort -un | tr '\n' ' ' | sed 's/ $//'
}

max=$(ethtool -l "$ig" | awk '/^Pre-set maximums/ { p = 1 } p && $1 == "Combined:" { print $2; exit }')
[ "$max" = 8 ] || fail "igb: ethtool -l shows combined max '$max', want 8 (82576)"
[ "$(ethtool -x "$ig" | grep -c '^ *[0-9]*: ')" = 16 ] || fail "igb: the RSS table does not have 128 entries: $(ethtool -x "$ig" | head -n3 | tr '\n' ' ')"
vmax=$(ethtool -l "$vn" | awk '/^Pre-set maximums/ { p = 1 } p && $1 == "Combined:" { print $2; exit }')
[ "$vmax" = "$VIRTIO_QUEUES" ] || fail "virtio-net: ethtool -l shows combined max '$vmax', want $VIRTIO_QUEUES"

# 1. Channels, rings, coalescing, RSS and per-queue IRQ pinning.
state >"$W/before.txt"
indent '  | ' "$W/before.txt"
vcur=$(current "$vn" -l Combined)
icur=$(current "$ig" -l Combined)
prof=$W/queues.yaml
cat >"$prof" <<PROFILE
apiVersion: nettune/v1
kind: Profile
metadata:
  name: e2e-queues
spec:
  nics:
    - match:
        pci: "${NICS[0]}"
      channels:
        combined: 4
      rings:
        rx: 512
        tx: 512
      coalesce:
        rxUsecs: 100
        txUsecs: 100
      rss:
        queues: 2
      irqAffinity:
        strategy: cpus
        cpus: "0-1"
    - match:
        pci: "${NICS[1]}"
      channels:
        combined: 4
      irqAffinity:
        strategy: cpus
        cpus: "0-1"
PROFILE
[ "$icur" != 4 ] && [ "$vcur" != 4 ] || fail "a NIC already has 4 combined channels (igb $icur, virtio-net $vcur): the apply would prove nothing"

nt apply1.json apply --yes -o json "$prof"
want_rc 0 "first apply of the queue profile"
[ "$(current "$ig" -l Combined)" = 4 ] || fail "after apply: igb combined channels $(current "$ig" -l Combined), want 4"
[ "$(current "$vn" -l Combined)" = 4 ] || fail "after apply: virtio-net combined channels $(current "$vn" -l Combined), want 4"
[ "$(current "$ig" -g RX)" = 512 ] && [ "$(current "$ig" -g TX)" = 512 ] ||
	fail "after apply: igb rings RX $(current "$ig" -g RX) TX $(current "$ig" -g TX), want 512"
[ "$(coalesce "$ig" rx-usecs)" = 100 ] && [ "$(coalesce "$ig" tx-usecs)" = 100 ] ||
	fail "after apply: igb rx-usecs $(coalesce "$ig" rx-usecs) tx-usecs $(coalesce "$ig" tx-usecs), want 100"
q=$(rss_queues "$ig")
[ "$q" = "0 1" ] || fail "after apply: the igb RSS table uses queues '$q', want '0 1' (equal 2)"
log "ok: ethtool shows igb combined 4, rings 512, usecs 100, RSS on queues 0 1; virtio-net combined 4"

nt apply2.json apply --yes -o json "$prof"
want_rc 0 "second apply of the queue profile (IRQ pinning of the new queues)"
n=0
for ifc in "$ig" "$vn"; do
	while read -r name irq; do
		qn=${name##*[-.]}
		want=$((qn % 2))
		read -r req <"/proc/irq/$irq/smp_affinity_list"
		read -r eff <"/proc/irq/$irq/effective_affinity_list"
		log "  $name irq $irq: smp_affinity_list $req effective $eff (want $want)"
		[ "$req" = "$want" ] || fail "after apply: $name (IRQ $irq) has smp_affinity_list $req, want $want (queue $qn round-robin on 0-1)"
		[ "$eff" = "$want" ] || fail "after apply: $name (IRQ $irq) runs on CPU $eff (effective_affinity_list), want $want"
		n=$((n + 1))
	done < <(queue_irqs "$ifc")
done
[ "$n" -ge 16 ] || fail "after apply: only $n queue IRQs found, want 8 for the igb and 8 for the virtio-net"
log "ok: $n queue IRQs pinned, effective affinity read back"

nt check.json check --diagnostics=false -o json "$prof"
want_rc 0 "nettune check after the two applies"
check "check after apply" check -file "$W/check.json" -status ok

# 2. Revert, then the RSS table must be the default again.
nt revert.json revert --all --yes -o json
want_rc 0 "nettune revert --all"
state >"$W/after.txt"
if ! diff -u "$W/before.txt" "$W/after.txt" >"$W/diff.txt"; then
	indent '  ' "$W/diff.txt"
	fail "after revert: differs from before apply: $(grep '^[-+][^-+]' "$W/diff.txt" | head -n 6 | tr '\n' ' ' | tr -s '\t ' ' ')"
fi
log "ok: ethtool -l/-g/-c/-x and the queue IRQ affinities as before apply"
log "+ ethtool -L $ig combined 1"
if ! out=$(ethtool -L "$ig" combined 1 2>&1); then
	fail "after revert of rss: ethtool -L $ig combined 1 fails ($(printf '%s' "$out" | tr '\n' ' ')): the reverted RSS table is user-set, not the driver's default"
fi
log "+ ethtool -L $ig combined $icur"
ethtool -L "$ig" combined "$icur" || fail "cannot put the igb back to $icur combined channels"
wait_driver "${NICS[0]}" igb 10 || true
log "ok: ethtool -L $ig combined 1 works after revert"
