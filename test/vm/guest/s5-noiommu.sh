#!/bin/bash
# Scenario 5 (boot without an IOMMU): binding to vfio-pci is refused with an
# explanation that names the missing IOMMU, and leaves the device on its
# driver; uio_pci_generic works when asked, and unbind brings both NICs
# back.
. /job/guest/lib.sh
need_cmd bind unbind

a=${NICS[0]}
nt bind-vfio.out bind "$a" --driver vfio-pci --yes
[ "$NT_RC" -ne 0 ] || fail "nettune bind $a --driver vfio-pci without an IOMMU exited 0"
grep -qi iommu "$W/bind-vfio.out.err" "$W/bind-vfio.out" ||
	fail "the refusal of vfio-pci without an IOMMU does not mention the IOMMU: $(tail -n1 "$W/bind-vfio.out.err")"
want_driver "$a" "${NIC_DRIVERS[0]}" "refused vfio-pci bind"
want_override_clear "$a" "refused vfio-pci bind"
log "ok: vfio-pci refused without an IOMMU"

if has_cmd devices; then
	nt devices.json devices -o json
	want_rc 0 "nettune devices"
	check "nettune devices without an IOMMU vs sysfs" devices -devices "$W/devices.json" "${NICS[@]}"
fi

nt bind-uio.out bind "${NICS[@]}" --driver uio_pci_generic --yes
want_rc 0 "nettune bind --driver uio_pci_generic"
for a in "${NICS[@]}"; do
	want_driver "$a" uio_pci_generic "bind uio_pci_generic"
	uio=("/sys/bus/pci/devices/$a/uio/uio"*)
	[ -e "${uio[0]}" ] || fail "$a on uio_pci_generic has no uio device"
done
nt unbind.out unbind "${NICS[@]}" --yes
want_rc 0 "nettune unbind"
for i in "${!NICS[@]}"; do
	want_driver "${NICS[$i]}" "${NIC_DRIVERS[$i]}" "unbind from uio_pci_generic"
	want_override_clear "${NICS[$i]}" "unbind from uio_pci_generic"
done
