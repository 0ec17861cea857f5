#!/bin/bash
# Scenario 0: the guest the other scenarios rely on. Both emulated NICs are
# there with the expected IDs and kernel drivers and interfaces; with an
# IOMMU (boot "iommu") each has an IOMMU group and the DMAR unit is up,
# without one (boot "noiommu") none has; the nettune under test runs.
. /job/guest/lib.sh

for i in "${!NICS[@]}"; do
	a=${NICS[$i]}
	[ -d "/sys/bus/pci/devices/$a" ] || fail "no PCI device $a in the guest"
	id="$(cat "/sys/bus/pci/devices/$a/vendor"):$(cat "/sys/bus/pci/devices/$a/device")"
	[ "$id" = "${NIC_IDS[$i]}" ] || fail "$a has IDs $id, want ${NIC_IDS[$i]}"
	want_driver "$a" "${NIC_DRIVERS[$i]}" "after boot"
	if [ "$IOMMU" = 1 ]; then
		[ -n "$(iommu_group "$a")" ] || fail "$a has no IOMMU group although the guest has intel-iommu"
	else
		[ -z "$(iommu_group "$a")" ] || fail "$a is in IOMMU group $(iommu_group "$a") although the guest has no IOMMU"
	fi
	log "ok: $a $id driver $(drv "$a") if $(ifaces "$a") group '$(iommu_group "$a")'"
done
if [ "$IOMMU" = 1 ]; then
	dmar=(/sys/class/iommu/dmar*)
	[ -e "${dmar[0]}" ] || fail "intel-iommu: no DMAR unit in /sys/class/iommu"
fi
nt version version -o json
want_rc 0 "nettune version"
log "ok: nettune runs in the guest"
