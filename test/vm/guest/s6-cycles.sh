#!/bin/bash
# Scenario 6: bind/unbind cycles. Both NICs go to vfio-pci and back to
# their kernel drivers CYCLES times (default 20), alternating full PCI
# addresses, short ones and interface names; after every step sysfs must
# show the expected driver (with /dev/vfio/<group> for vfio-pci, with the
# interface back for the kernel driver) and no driver_override left behind.
. /job/guest/lib.sh
need_cmd bind unbind

cycles=${CYCLES:-20}
for ((c = 1; c <= cycles; c++)); do
	case $((c % 3)) in
	0) args=("${NICS[@]}") ;;
	1) args=("${NICS[@]#0000:}") ;;
	2) args=(); for a in "${NICS[@]}"; do args+=("$(ifaces "$a")"); done ;;
	esac
	nt "bind-$c.out" bind "${args[@]}" --driver vfio-pci --yes
	want_rc 0 "cycle $c: nettune bind ${args[*]}"
	for a in "${NICS[@]}"; do
		want_driver "$a" vfio-pci "cycle $c: bind"
	done
	case $((c % 2)) in
	0) args=("${NICS[@]}") ;;
	1) args=("${NICS[@]#0000:}") ;;
	esac
	nt "unbind-$c.out" unbind "${args[@]}" --yes
	want_rc 0 "cycle $c: nettune unbind ${args[*]}"
	for i in "${!NICS[@]}"; do
		want_driver "${NICS[$i]}" "${NIC_DRIVERS[$i]}" "cycle $c: unbind"
		want_override_clear "${NICS[$i]}" "cycle $c: unbind"
	done
	log "ok: cycle $c"
done
bad=$(baseline_check) || fail "after $cycles cycles: $bad"
log "ok: $cycles cycles, every NIC on its original driver with its interface"
