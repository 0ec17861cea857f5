#!/bin/bash
# s16-ansible (boots fleet1 and fleet2, which run at the same time): the
# guest is one host of a fleet of two that the host drives with
# ansible-playbook over SSH (test/vm/ansible.sh). It brings up the
# user-mode NIC whose port 22 QEMU forwards from the host's loopback,
# generates a host key for this run, starts sshd with the key run.sh
# generated as the only authorized key, and publishes its host key and
# somaxconn before the play. Then it waits for the host's verdict
# (results/BOOT/ansible.done) and reports it with the host's log.
# shellcheck source=lib.sh
. /job/guest/lib.sh

[ -x /usr/sbin/sshd ] || skip "no /usr/sbin/sshd: scripts/deps.sh installs openssh-server"
[ -r /job/ansible/id.pub ] || skip "the host did not generate a client key (ansible-playbook missing on the host)"

modprobe virtio_net || fail "modprobe virtio_net failed"
ifc=""
for _ in $(seq 1 50); do
	for d in /sys/class/net/*; do
		[ "$(cat "$d/address" 2>/dev/null)" = "$FLEET_MAC" ] && ifc=${d##*/}
	done
	[ -n "$ifc" ] && break
	sleep 0.2
done
[ -n "$ifc" ] || fail "no interface with the MAC $FLEET_MAC of the user-mode NIC"
ip addr add 10.0.2.15/24 dev "$ifc" && ip link set "$ifc" up || fail "cannot bring up $ifc"

# sshd without PAM refuses a locked root ("!" in shadow): unlock it in
# this guest's overlay (the host's /etc/shadow is not touched).
if [ "$(getent shadow root | cut -d: -f2 | cut -c1)" = "!" ]; then
	usermod -p '*' root || fail "cannot unlock root in the guest for sshd"
fi
S=/run/e2e-ssh
mkdir -p "$S" /run/sshd
chmod 700 "$S"
ssh-keygen -q -t ed25519 -N '' -f "$S/host_ed25519" -C "nettune-e2e-$E2E_BOOT" || fail "ssh-keygen of the host key failed"
install -m 600 /job/ansible/id.pub "$S/authorized_keys"
cat >"$S/sshd_config" <<CONF
ListenAddress 10.0.2.15:22
HostKey $S/host_ed25519
AuthorizedKeysFile $S/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PidFile $S/sshd.pid
Subsystem sftp /usr/lib/openssh/sftp-server
CONF
/usr/sbin/sshd -f "$S/sshd_config" -E "$W/sshd.log" || fail "sshd did not start: $(tail -n1 "$W/sshd.log")"
cp "$S/host_ed25519.pub" "$W/hostkey.pub"
cat /proc/sys/net/core/somaxconn >"$W/somaxconn.before"
log "sshd on $ifc 10.0.2.15:22, somaxconn $(cat "$W/somaxconn.before")"
date +%s >"$E2E_RESULTS/ssh.ready"

done_file=$E2E_RESULTS/ansible.done
for _ in $(seq 1 $((${SCENARIO_TIMEOUT:-420} - 20))); do
	[ -s "$done_file" ] && break
	sleep 1
done
kill "$(cat "$S/sshd.pid")" 2>/dev/null
echo "---- the host's log (test/vm/ansible.sh)"
cat /job/ansible/host.log 2>/dev/null
[ -s "$done_file" ] || fail "the host gave no verdict in time"
verdict=$(cat "$done_file")
case $verdict in
PASS*) exit 0 ;;
SKIP*) skip "${verdict#SKIP }" ;;
*) fail "${verdict#FAIL }" ;;
esac
