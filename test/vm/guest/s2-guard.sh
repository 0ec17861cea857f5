#!/bin/bash
# Scenario 2: the guard. A NIC that carries an address, or a route in any
# routing table, is reported active by nettune devices and refused by
# nettune bind without --force (non-zero exit, device untouched); --force
# binds it, and unbind brings it back.
#
# The addresses are from TEST-NET-1/2 (RFC 5737) on the guest's internal
# hub; nothing is sent anywhere.
. /job/guest/lib.sh
need_cmd devices bind unbind

a=${NICS[0]} b=${NICS[1]}
ifa=$(ifaces "$a") ifb=$(ifaces "$b")
cleanup() {
	ip route flush table 100 2>/dev/null
	for i in $(ifaces "$a") $(ifaces "$b"); do
		ip addr flush dev "$i" 2>/dev/null
		ip link set "$i" down 2>/dev/null
	done
}
trap cleanup EXIT

log "+ ip addr add 192.0.2.1/24 dev $ifa; ip route add 198.51.100.0/24 dev $ifb table 100"
if ! { ip link set "$ifa" up && ip addr add 192.0.2.1/24 dev "$ifa"; }; then
	fail "cannot add an address to $ifa"
fi
if ! { ip link set "$ifb" up && ip route add 198.51.100.0/24 dev "$ifb" table 100; }; then
	fail "cannot add a route to $ifb in table 100"
fi

nt devices.json devices -o json
want_rc 0 "nettune devices"
check "the NIC with an address is active" active -devices "$W/devices.json" "$a" true
check "the NIC with a route in table 100 is active" active -devices "$W/devices.json" "$b" true

for dev in "$a:$ifa" "$b:$ifb"; do
	addr=${dev%:*}
	ifc=${dev##*:}
	orig=$(drv "$addr")
	nt "bind-$ifc.out" bind "$addr" --driver vfio-pci --yes
	[ "$NT_RC" -ne 0 ] || fail "nettune bind $addr ($ifc, active) without --force exited 0"
	want_driver "$addr" "$orig" "refused bind of $addr"
	want_override_clear "$addr" "refused bind of $addr"
	log "ok: bind of active $addr refused (exit $NT_RC)"
done
ip -o addr show dev "$ifa" | grep -q 192.0.2.1/24 || fail "the refused bind removed the address of $ifa"
ip route show table 100 | grep -q 198.51.100.0/24 || fail "the refused bind removed the route of $ifb"

nt bind-force.out bind "$a" --driver vfio-pci --yes --force
want_rc 0 "nettune bind --force of active $a"
want_driver "$a" vfio-pci "bind --force"
nt unbind.out unbind "$a" --yes
want_rc 0 "nettune unbind $a"
want_driver "$a" "${NIC_DRIVERS[0]}" "unbind after bind --force"
want_override_clear "$a" "unbind after bind --force"
