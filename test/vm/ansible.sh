# shellcheck shell=bash
# Sourced by run.sh: scenarios s15-ansible (in CI: one guest, fleet1, with
# the binary; runs 1 and 2 below) and s16-ansible (opt-in: a fleet of two
# guests, fleet1 and fleet2, started together; runs 1 to 3), 1 vCPU and
# 1 GiB each, driven by ansible-playbook over SSH with the role in
# ansible/ (docs/ansible.md). Check mode and the rollback also run in
# go test ./test/ansible, over SSH into a namespace of the host.
#
# Each guest has, besides the hub NICs of boot noiommu, a user-mode NIC
# (restrict=on: no way out) whose port 22 QEMU forwards from 127.0.0.1:PORT
# on the host. The guest generates its own host key for the run and
# publishes it; the client key is generated here per run. Nothing of the
# host's SSH configuration or network is used or changed.
#
# The play, run from ansible/ with site.yml, verified through
# plain ssh in the guests (nettune check, revert --list, /proc/sys):
#   1. first run (serial 1): changed on both; check exits 0; somaxconn 8192; fleet1
#      has the .deb installed (make deb), fleet2 the static binary
#   2. second run: changed=0 on both
#   3. drift on fleet2 (somaxconn 1024), then --check --diff: changed on
#      fleet2 only, the diff shows the plan, and fleet2 keeps 1024, check
#      exit 2 and one generation
# The rollback (nettune_state=reverted) is left to go test ./test/ansible
# (the role on a snapshot root): under TCG each module run costs seconds.

FLEET_BOOTS=(fleet1 fleet2)
FLEET_MEM=1024

# fleet_ssh N CMD...: runs CMD in guest fleetN as root (not through Ansible).
fleet_ssh() {
	local n=$1
	shift
	ssh -n -F /dev/null -p "${FLEET_PORTS[$((n - 1))]}" -i "$FA/id" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o UserKnownHostsFile="$FA/known_hosts" -o StrictHostKeyChecking=yes -o ConnectTimeout=30 \
		root@127.0.0.1 "$@"
}

# fleet_play NAME ARGS...: ansible-playbook site.yml ARGS; output in
# $FA/NAME.out, recap lines kept in FLEET_RECAP, exit status in FLEET_RC.
fleet_play() {
	local name=$1 t0
	shift
	t0=$(date +%s)
	FLEET_RC=0
	(cd "$REPO/ansible" && ANSIBLE_NOCOLOR=1 ANSIBLE_NOCOWS=1 ANSIBLE_PIPELINING=1 ANSIBLE_HOME="$FA/home" \
		ANSIBLE_LOCAL_TEMP="$FA/tmp" ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_PRIVATE_KEY_FILE="$FA/id" \
		ANSIBLE_TIMEOUT=60 \
		ANSIBLE_SSH_ARGS="-F /dev/null -o ControlMaster=auto -o ControlPersist=60s -o IdentitiesOnly=yes -o UserKnownHostsFile=$FA/known_hosts -o StrictHostKeyChecking=yes" \
		ansible-playbook -i "$FA/inventory.ini" site.yml -e nettune_serial="${FLEET_SERIAL:-2}" "$@") >"$FA/$name.out" 2>&1 || FLEET_RC=$?
	FLEET_RECAP=$(grep -E '^fleet[12] +:' "$FA/$name.out" || true)
	echo "[$name] ansible-playbook $* -> exit $FLEET_RC in $(($(date +%s) - t0)) s"
	echo "$FLEET_RECAP"
}

# fleet_changed N: changed= of fleetN in the last recap.
fleet_changed() {
	sed -n "s/^fleet$1 .* changed=\([0-9]*\) .*/\1/p" <<<"$FLEET_RECAP"
}

# fleet_sequence: the four runs and their checks; prints FAIL REASON or PASS.
fleet_sequence() {
	local n rc v before
	# The rollout in batches of one (site.yml's serial); the later runs
	# take both hosts at once, which halves their time under TCG.
	FLEET_SERIAL=1 fleet_play run1
	[ "$FLEET_RC" = 0 ] || { echo "FAIL first run: ansible-playbook exit $FLEET_RC"; return; }
	for n in $(seq "$FLEET_N"); do
		[ "$(fleet_changed "$n")" -gt 0 ] 2>/dev/null || { echo "FAIL first run: fleet$n not changed"; return; }
		rc=0
		fleet_ssh "$n" nettune check --diagnostics=false /etc/nettune/profile.yaml >"$FA/run1.check$n" 2>&1 || rc=$?
		[ "$rc" = 0 ] || { echo "FAIL first run: nettune check in fleet$n exit $rc"; return; }
		v=$(fleet_ssh "$n" cat /proc/sys/net/core/somaxconn)
		[ "$v" = 8192 ] || { echo "FAIL first run: fleet$n somaxconn $v, want 8192"; return; }
	done
	if [ "$FLEET_DEB" = 1 ]; then
		fleet_ssh 1 dpkg -s nettune | grep -E '^(Status|Version):' | tr '\n' ' ' >"$FA/run1.dpkg" 2>&1
		grep -q 'Status: install ok installed' "$FA/run1.dpkg" || { echo "FAIL first run: the nettune package is not installed in fleet1"; return; }
	fi
	echo "first run: changed, check 0, somaxconn 8192 (fleet1: $(cat "$FA/run1.dpkg" 2>/dev/null || echo binary))"

	fleet_play run2
	[ "$FLEET_RC" = 0 ] || { echo "FAIL second run: ansible-playbook exit $FLEET_RC"; return; }
	for n in $(seq "$FLEET_N"); do
		[ "$(fleet_changed "$n")" = 0 ] || { echo "FAIL second run: fleet$n changed=$(fleet_changed "$n"), want 0"; return; }
	done
	echo "second run: changed=0"
	if [ "$FLEET_N" = 1 ]; then
		# One guest (s15-ansible, in CI): check mode and the rollback are
		# go test ./test/ansible's, over SSH into a namespace of the host.
		echo PASS
		return
	fi

	fleet_ssh 2 'echo 1024 >/proc/sys/net/core/somaxconn' || { echo "FAIL cannot set somaxconn in fleet2"; return; }
	fleet_play check --check --diff
	[ "$FLEET_RC" = 0 ] || { echo "FAIL check mode: ansible-playbook exit $FLEET_RC"; return; }
	[ "$(fleet_changed 1)" = 0 ] || { echo "FAIL check mode: fleet1 (in sync) changed=$(fleet_changed 1)"; return; }
	[ "$(fleet_changed 2)" -gt 0 ] 2>/dev/null || { echo "FAIL check mode: fleet2 (drifted) not changed"; return; }
	grep -q -- '^-sysctl net.core.somaxconn value (live): 1024' "$FA/check.out" &&
		grep -q -- '^+sysctl net.core.somaxconn value (live): 8192' "$FA/check.out" ||
		{ echo "FAIL check mode: the diff does not show somaxconn 1024 -> 8192"; return; }
	v=$(fleet_ssh 2 cat /proc/sys/net/core/somaxconn)
	[ "$v" = 1024 ] || { echo "FAIL check mode changed fleet2's somaxconn to $v"; return; }
	rc=0
	fleet_ssh 2 nettune check --diagnostics=false /etc/nettune/profile.yaml >"$FA/check.check2" 2>&1 || rc=$?
	[ "$rc" = 2 ] || { echo "FAIL after check mode nettune check in fleet2 exit $rc, want 2 (drift kept)"; return; }
	v=$(fleet_ssh 2 nettune revert --list -o json | grep -c '"number":')
	[ "$v" = 1 ] || { echo "FAIL after check mode fleet2 has $v generations, want 1"; return; }
	echo "check mode: fleet2 changed (plan shown as diff), fleet1 ok; fleet2 kept somaxconn 1024, check 2, 1 generation"

	echo PASS
}

# ansible_fleet SCENARIO N: boots fleet1 (and fleet2 when N is 2)
# together, runs the sequence when all have sshd up, gives all the
# verdict, waits for them. Returns like boot().
ansible_fleet() {
	local n name port pids=() rc=0 start verdict t0 waited ready
	FLEET_SCENARIO=$1 FLEET_N=$2
	if ! command -v ansible-playbook >/dev/null || ! command -v ssh >/dev/null || [ ! -x /usr/sbin/sshd ]; then
		HOST_SKIPS+=("$FLEET_SCENARIO|SKIP ansible-playbook, ssh or /usr/sbin/sshd missing on the host (scripts/deps.sh installs ansible-core and openssh-server)")
		return 0
	fi
	FA=$JOB/ansible
	mkdir -p "$FA/tmp" "$FA/home"
	ssh-keygen -q -t ed25519 -N '' -f "$FA/id" -C "nettune-e2e-client" || die "ssh-keygen of the client key failed"
	chmod 644 "$FA/id.pub"
	: >"$FA/host.log"
	FLEET_DEB=0
	# The .deb for fleet1 of a fleet of two; one guest gets the binary.
	if [ "$FLEET_N" = 2 ] && command -v dpkg-shlibdeps >/dev/null; then
		t0=$(date +%s)
		if (cd "$REPO" && DEB_OUTDIR="$FA/deb" ./scripts/build-deb.sh) >"$FA/build-deb.log" 2>&1; then
			FLEET_DEB=1
			log "fleet: make deb for fleet1 in $(($(date +%s) - t0)) s"
		else
			log "fleet: scripts/build-deb.sh failed, fleet1 gets the binary too: $(tail -n1 "$FA/build-deb.log")"
		fi
	fi
	cp "$REPO/test/ansible/testdata/fleet.yaml" "$FA/fleet.yaml"
	FLEET_PORTS=()
	for n in $(seq "$FLEET_N"); do
		# A free port on the host's loopback.
		port=$((20000 + RANDOM % 20000))
		while ss -Hltn "sport = :$port" | grep -q .; do port=$((port + 1)); done
		FLEET_PORTS+=("$port")
	done
	{
		echo "[nettune]"
		if [ "$FLEET_DEB" = 1 ]; then
			echo "fleet1 ansible_port=${FLEET_PORTS[0]} nettune_install=deb nettune_deb=$(ls "$FA"/deb/nettune_*.deb)"
		else
			echo "fleet1 ansible_port=${FLEET_PORTS[0]} nettune_install=binary nettune_binary=$JOB/bin/nettune"
		fi
		[ "$FLEET_N" = 1 ] || echo "fleet2 ansible_port=${FLEET_PORTS[1]} nettune_install=binary nettune_binary=$JOB/bin/nettune"
		echo "[nettune:vars]"
		echo "ansible_host=127.0.0.1"
		echo "ansible_user=root"
		echo "ansible_become=false"
		echo "ansible_python_interpreter=/usr/bin/python3"
		echo "nettune_profile=$FA/fleet.yaml"
	} >"$FA/inventory.ini"

	start=$(date +%s)
	for n in $(seq "$FLEET_N"); do
		name=fleet$n
		RAN_BOOTS+=("$name")
		echo "$FLEET_SCENARIO" >"$JOB/boots/$name"
		{
			echo "IOMMU=0"
			echo "FLEET_MAC=52:54:00:e2:ea:0$n"
			# Each module run of the play costs seconds under TCG.
			echo "SCENARIO_TIMEOUT=${E2E_VM_ANSIBLE_TIMEOUT:-1500}"
		} >"$JOB/boots/$name.env"
		rm -rf "$JOB/results/$name"
		mkdir -p "$JOB/results/$name"
		SMP=1 MEM=$FLEET_MEM qemu_args "$name" 0 ""
		# shellcheck disable=SC2054 # commas separate QEMU options
		QEMU_ARGS+=(-netdev "user,id=ssh0,net=10.0.2.0/24,restrict=on,hostfwd=tcp:127.0.0.1:${FLEET_PORTS[$((n - 1))]}-10.0.2.15:22"
			-device "virtio-net-pci,netdev=ssh0,mac=52:54:00:e2:ea:0$n,romfile=,addr=0x3")
		printf '%q ' qemu-system-x86_64 "${QEMU_ARGS[@]}" >"$JOB/$name.qemu.cmd"
		log "boot $name: $FLEET_SCENARIO, ssh on 127.0.0.1:${FLEET_PORTS[$((n - 1))]}"
		timeout -k 10 "$((${E2E_VM_ANSIBLE_TIMEOUT:-1500} + 120))" qemu-system-x86_64 "${QEMU_ARGS[@]}" >"$JOB/$name.qemu.log" 2>&1 &
		pids+=($!)
	done
	# Every guest's sshd up, or one of them gone.
	waited=0
	while :; do
		ready=1
		for n in $(seq "$FLEET_N"); do
			[ -e "$JOB/results/fleet$n/ssh.ready" ] || ready=0
			kill -0 "${pids[$((n - 1))]}" 2>/dev/null || waited=300
		done
		[ "$ready" = 1 ] || [ "$waited" -ge 300 ] && break
		sleep 1
		waited=$((waited + 1))
	done
	if [ "$ready" = 1 ]; then
		log "fleet: sshd up in $FLEET_N guest(s) $(($(date +%s) - start)) s after QEMU started"
		for n in $(seq "$FLEET_N"); do
			printf '[127.0.0.1]:%s %s\n' "${FLEET_PORTS[$((n - 1))]}" "$(cut -d' ' -f1-2 "$JOB/results/fleet$n/$FLEET_SCENARIO/hostkey.pub")"
		done >"$FA/known_hosts"
		t0=$(date +%s)
		fleet_sequence >>"$FA/host.log" 2>&1
		verdict=$(tail -n1 "$FA/host.log")
		log "fleet: the play sequence took $(($(date +%s) - t0)) s: $verdict"
		case $verdict in PASS | FAIL*) ;; *) verdict="FAIL the host's sequence ended without a verdict" ;; esac
		for f in "$FA"/*.out; do
			echo "---- $(basename "$f")"
			cat "$f"
		done >>"$FA/host.log"
	else
		verdict="FAIL a guest did not get sshd up"
	fi
	for n in $(seq "$FLEET_N"); do
		echo "$verdict" >"$JOB/results/fleet$n/ansible.done"
	done
	for n in $(seq "$FLEET_N"); do
		wait "${pids[$((n - 1))]}" || true
		if [ -e "$JOB/results/fleet$n/exit" ]; then
			[ "$(cat "$JOB/results/fleet$n/exit")" = 0 ] || rc=1
		else
			log "boot fleet$n: the guest script did not finish; console:"
			tail -n 30 "$JOB/fleet$n.console.log" >&2 || true
			rc=1
		fi
	done
	log "fleet: $FLEET_N guest(s) done $(($(date +%s) - start)) s after QEMU started"
	return "$rc"
}
