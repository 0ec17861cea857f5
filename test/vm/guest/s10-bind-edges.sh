#!/bin/bash
# Scenario 10 (boot mq, with an IOMMU): the edges of bind and unbind.
#
# - bind to vfio-pci twice, then unbind twice (igb): the second of each is
#   "nothing to do" (exit 0) and the device stays where the first put it;
#   the second unbind must not bind it back to vfio-pci.
# - The two e1000 functions of slot 08 share an IOMMU group. After both are
#   bound to vfio-pci, unbinding one of them alone would leave the group
#   unusable for vfio: nettune refuses it (non-zero exit) and both stay on
#   vfio-pci; unbinding both brings both back.
# - A virtio-blk disk with a mounted filesystem: bind to vfio-pci or
#   uio_pci_generic is refused, with or without --force; the disk stays on
#   virtio-pci and the filesystem stays readable.
# - bind to a kernel driver that is not loaded and whose probe fails on the
#   device (e100 for the virtio-net, whose BAR 0 is I/O ports: "Cannot find
#   proper PCI device base address") fails; the virtio-net is back on
#   virtio-pci with its interface, and nettune leaves no module it loaded
#   behind (or says exactly that it stays).
. /job/guest/lib.sh
need_cmd bind unbind

ig=${NICS[0]} f0=${NICS[2]} f1=${NICS[3]}
mnt=/mnt/e2e-root
cleanup() {
	if mountpoint -q "$mnt"; then umount "$mnt"; fi
	if [ -n "${DISK:-}" ] && [ "$(drv "$DISK")" != virtio-pci ]; then
		log "cleanup: putting the disk $DISK back on virtio-pci"
		echo >"/sys/bus/pci/devices/$DISK/driver_override"
		[ -e "/sys/bus/pci/devices/$DISK/driver" ] && echo "$DISK" >"/sys/bus/pci/devices/$DISK/driver/unbind"
		echo "$DISK" >/sys/bus/pci/drivers/virtio-pci/bind
	fi
}
trap cleanup EXIT

# Twice each way.
for c in 1 2; do
	nt "bind-$c.out" bind "$ig" --driver vfio-pci --yes
	want_rc 0 "bind #$c of $ig to vfio-pci"
	want_driver "$ig" vfio-pci "bind #$c"
done
for c in 1 2; do
	nt "unbind-$c.out" unbind "$ig" --yes
	want_rc 0 "unbind #$c of $ig"
	sleep 0.5
	_get_drv "$ig"
	[ "$_drv" = igb ] || fail "unbind #$c of $ig: the device is on '$_drv', want igb"
	want_driver "$ig" igb "unbind #$c"
	want_override_clear "$ig" "unbind #$c"
done
log "ok: bind, bind, unbind, unbind"

# One member of an IOMMU group.
g0=$(iommu_group "$f0")
g1=$(iommu_group "$f1")
[ -n "$g0" ] && [ "$g0" = "$g1" ] || fail "the e1000 functions $f0 and $f1 are in IOMMU groups '$g0' and '$g1', want one shared group"
log "ok: $f0 and $f1 share IOMMU group $g0"
nt bind-group.out bind "$f0" "$f1" --driver vfio-pci --yes
want_rc 0 "bind of both members of IOMMU group $g0"
want_driver "$f0" vfio-pci "bind of the group"
want_driver "$f1" vfio-pci "bind of the group"
nt unbind-member.out unbind "$f0" --yes
[ "$NT_RC" -ne 0 ] || fail "unbind of $f0 alone, whose IOMMU group $g0 also holds $f1 on vfio-pci, exited 0 (now on '$(drv "$f0")')"
want_driver "$f0" vfio-pci "refused unbind of one group member"
want_driver "$f1" vfio-pci "refused unbind of one group member"
log "ok: unbind of one member of group $g0 refused (exit $NT_RC)"
nt unbind-group.out unbind "$f0" "$f1" --yes
want_rc 0 "unbind of both members of IOMMU group $g0"
want_driver "$f0" e1000 "unbind of the group"
want_driver "$f1" e1000 "unbind of the group"
want_override_clear "$f0" "unbind of the group"
want_override_clear "$f1" "unbind of the group"

# The disk that holds a mounted filesystem.
[ -n "${DISK:-}" ] || fail "boot mq has no disk (DISK unset)"
modprobe virtio_blk || fail "modprobe virtio_blk failed"
modprobe ext4 || fail "modprobe ext4 failed"
blk=""
for ((i = 0; i < 50; i++)); do
	b=(/sys/bus/pci/devices/"$DISK"/virtio*/block/*)
	[ -e "${b[0]}" ] && blk=${b[0]##*/} && break
	sleep 0.1
done
[ -n "$blk" ] || fail "the virtio-blk disk $DISK has no block device"
mkdir -p "$mnt"
mount "/dev/$blk" "$mnt" || fail "cannot mount /dev/$blk"
echo e2e >"$mnt/canary" && sync
log "ok: /dev/$blk ($DISK) mounted on $mnt"
for args in "--driver vfio-pci" "--driver uio_pci_generic" "--driver vfio-pci --force"; do
	# shellcheck disable=SC2086 # the arguments are words
	nt "bind-disk.out" bind "$DISK" $args --yes
	[ "$NT_RC" -ne 0 ] || fail "bind $args of $DISK, which backs $mnt (/dev/$blk), exited 0 (now on '$(drv "$DISK")')"
	_get_drv "$DISK"
	[ "$_drv" = virtio-pci ] || fail "refused bind $args of $DISK: the disk is on '$_drv', want virtio-pci"
	want_override_clear "$DISK" "refused bind $args of the mounted disk"
	[ "$(cat "$mnt/canary" 2>/dev/null)" = e2e ] || fail "after the refused bind $args, $mnt is not readable"
	log "ok: bind $args of the mounted disk refused (exit $NT_RC)"
done

# A kernel driver that is not loaded and whose probe fails on the device.
# driver_override makes the PCI core probe any driver, so it must be one
# that refuses fast: e1000e takes the 82576 (with a "Hardware Error") and
# ixgbe spends 5 minutes of TCG time before its EEPROM checksum fails,
# while e100 gives up at once on a BAR 0 that is not memory.
vnet=${NICS[1]}
read -r _ _ bar0 </sys/bus/pci/devices/"$vnet"/resource
((bar0 & 0x100)) || fail "premise: BAR 0 of the virtio-net $vnet is not I/O (flags $bar0): e100 would not refuse it"
[ -e /sys/module/e100 ] && fail "e100 is already loaded in boot mq"
nt bind-e100.out bind "$vnet" --driver e100 --yes
[ "$NT_RC" -ne 0 ] || fail "bind of the virtio-net $vnet to e100 exited 0 (now on '$(drv "$vnet")')"
want_driver "$vnet" virtio-pci "failed bind to e100"
want_override_clear "$vnet" "failed bind to e100"
if [ -e /sys/module/e100 ]; then
	grep -qi 'e100' "$W/bind-e100.out.err" "$W/bind-e100.out" &&
		grep -qiE 'still loaded|stays loaded|remains loaded|left loaded' "$W/bind-e100.out.err" "$W/bind-e100.out" ||
		fail "the failed bind to e100 left the module e100 loaded and does not say so: $(tail -n1 "$W/bind-e100.out.err")"
	log "ok: the failed bind says e100 stays loaded"
	rmmod e100
else
	log "ok: the failed bind to e100 left no e100 module loaded"
fi
