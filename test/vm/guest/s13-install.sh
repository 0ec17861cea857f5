#!/bin/bash
# Boot sd1 (systemd as init, persistent upper layer): 'nettune install' of
# profiles/boot-systemd.yaml from a persistent path, after checking that a
# nettune run from /tmp is refused. Nothing is applied here: boot sd2 must
# get every setting from the boot units and udev alone.
# shellcheck source=lib.sh
. /job/guest/lib.sh
need_cmd install
[ "$(readlink /proc/1/exe)" = /usr/lib/systemd/systemd ] || [ "$(readlink /proc/1/exe)" = /lib/systemd/systemd ] ||
	fail "PID 1 is $(readlink /proc/1/exe), not systemd"
systemctl is-active --quiet systemd-udevd.service || fail "systemd-udevd is not running"

# A fresh journal and configuration on the persistent layer (the host's,
# seen through the lower layer, must not leak in).
rm -rf /var/lib/nettune /etc/nettune
install -D -m 0755 /job/bin/nettune /usr/local/sbin/nettune
hash -r # nettune is /usr/local/sbin/nettune from here, as install records it
cp /job/bin/nettune /tmp/nettune-e2e

log "+ /tmp/nettune-e2e install (must be refused)"
if /tmp/nettune-e2e install "$PROFILES/boot-systemd.yaml" >"$W/tmp-install" 2>&1; then
	cat "$W/tmp-install"
	fail "install from /tmp was accepted"
fi
indent '  | ' "$W/tmp-install"
grep -q -- '--binary' "$W/tmp-install" || fail "the refusal of /tmp does not name --binary"
[ ! -e /etc/nettune/profile.yaml ] || fail "a refused install wrote /etc/nettune/profile.yaml"

nt install install "$PROFILES/boot-systemd.yaml"
want_rc 0 "nettune install"
for f in /etc/nettune/profile.yaml /etc/systemd/system/nettune-apply.service \
	/etc/systemd/system/nettune-nic@.service /etc/udev/rules.d/90-nettune.rules /etc/modules-load.d/nettune.conf; do
	[ -e "$f" ] || fail "install did not write $f"
done
indent '  rule| ' /etc/udev/rules.d/90-nettune.rules
grep -q '^ExecStart=/usr/local/sbin/nettune ' /etc/systemd/system/nettune-apply.service ||
	fail "nettune-apply.service does not run /usr/local/sbin/nettune"
systemctl is-enabled --quiet nettune-apply.service || fail "nettune-apply.service is not enabled"
# Before the reboot the host is untuned: sd2 must not find these by chance.
[ "$(cat /proc/sys/net/core/somaxconn)" != 8192 ] || fail "somaxconn is already 8192 before the reboot"
[ "$(cat /sys/bus/pci/devices/0000:00:05.0/driver_override)" = "(null)" ] || fail "0000:00:05.0 already has a driver_override"
log "installed; powering off for boot sd2"
