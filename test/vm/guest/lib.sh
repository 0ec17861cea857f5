# shellcheck shell=bash
# Helpers for the guest scenarios (sourced). A scenario is a bash script that
# ends in one of three ways: exit 0 (passed), fail REASON (exit 1) or skip
# REASON (exit 77); init.sh turns that into the scenario's result.
#
# Assertions look at nettune's exit status, its -o json output (through
# vmcheck) and sysfs; never at nettune's log text. Every command a scenario
# runs is echoed with its output into the scenario's log.

: "${E2E_SCENARIO:=adhoc}" "${E2E_RESULTS:=/tmp}" "${E2E_BOOT:=iommu}"
export PROFILES=/job/profiles
# The guest's hardware and this boot's settings (written by run.sh).
# shellcheck source=/dev/null
. /job/e2e.env
# shellcheck source=/dev/null
. "/job/boots/$E2E_BOOT.env"

# Each scenario keeps its files (nettune's JSON documents, tool output) in
# its own directory of the results share, for the post-mortem.
W=$E2E_RESULTS/$E2E_SCENARIO
mkdir -p "$W"

# log prefixes each line with the seconds since the scenario started.
E2E_T0=${EPOCHREALTIME/./}
log() {
	local now=${EPOCHREALTIME/./}
	printf '[%6.1f] %s\n' "$(((now - E2E_T0) / 100000))e-1" "$*"
}

# fail REASON: the scenario failed.
fail() {
	printf '%s\n' "$*" >"$E2E_RESULTS/$E2E_SCENARIO.reason"
	log "FAIL: $*"
	exit 1
}

# skip REASON: the scenario cannot run with this build.
skip() {
	printf '%s\n' "$*" >"$E2E_RESULTS/$E2E_SCENARIO.reason"
	log "SKIP: $*"
	exit 77
}

# subresult NAME RESULT: a separately reported part of a scenario, for
# example "s3-run" "SKIP nettune run not available in this build".
subresult() {
	printf '%s\n' "$2" >"$E2E_RESULTS/$1.result"
	log "$1: $2"
}

# need_cmd CMD...: skip unless this nettune has every command.
need_cmd() {
	local c
	for c in "$@"; do
		if ! nettune "$c" --help >/dev/null 2>&1; then
			skip "nettune $c not available in this build"
		fi
	done
}

# has_cmd CMD: whether this nettune has the command.
has_cmd() { nettune "$1" --help >/dev/null 2>&1; }

# need_modules PROFILE: skip when planning the profile needs a module this
# build does not have ("module X not implemented yet").
need_modules() {
	local out=$W/need-modules.json missing
	nettune plan -o json "$1" >"$out" 2>"$out.err"
	# With -o json the problems are in the document, else on stderr.
	missing=$(grep -ho 'module [a-z]* not implemented yet' "$out" "$out.err" | head -n1)
	if [ -n "$missing" ]; then
		skip "$missing"
	fi
}

# nt NAME ARGS...: runs nettune ARGS, stdout into $W/NAME, stderr into
# $W/NAME.err, both copied into the log; the exit status is in NT_RC.
NT_RC=0 LAST_NT=""
nt() {
	local name=$1
	shift
	LAST_NT=$name
	log "+ nettune $*"
	local t=${EPOCHREALTIME/./}
	nettune "$@" >"$W/$name" 2>"$W/$name.err"
	NT_RC=$?
	t=$(((${EPOCHREALTIME/./} - t) / 10000))
	indent '  | ' "$W/$name"
	indent '  ! ' "$W/$name.err"
	log "  exit $NT_RC ($((t / 100)).$((t / 10 % 10)) s)"
}

# indent PREFIX FILE: prints FILE with PREFIX before each line.
indent() {
	local line
	while IFS= read -r line || [ -n "$line" ]; do
		printf '%s%s\n' "$1" "$line"
	done <"$2"
}

# want_rc CODE WHAT: the last nt exited CODE.
want_rc() {
	[ "$NT_RC" -eq "$1" ] || fail "$2: nettune exited $NT_RC, want $1: $(tail -n1 "$W/$LAST_NT.err" 2>/dev/null)"
}

# check WHAT ARGS...: runs vmcheck ARGS; a failed assertion fails the
# scenario with vmcheck's message.
check() {
	local what=$1 out
	shift
	log "+ vmcheck $*"
	if ! out=$(vmcheck "$@" 2>&1); then
		log "$out"
		fail "$what: $(printf '%s\n' "$out" | grep -m1 'FAIL' | sed 's/^vmcheck [a-z]*: FAIL: //')"
	fi
	log "$out"
}

# Under TCG every fork and exec costs tens of milliseconds, so the sysfs
# helpers below are bash builtins only. Each sets a variable (the _get_*
# forms, for loops) or prints it (for messages).

# _get_drv ADDR: sets _drv to the driver the PCI device is bound to ("" for
# none).
_get_drv() {
	_drv=""
	local p=/sys/bus/pci/devices/$1/driver
	[ -e "$p" ] || return 0
	cd -P "$p" 2>/dev/null || return 0
	_drv=${PWD##*/}
	cd - >/dev/null || true
}

# _get_ifaces ADDR: sets _ifaces to the device's network interfaces,
# space-separated (a virtio-net's sit one level down, under virtioN/net).
_get_ifaces() {
	local n=("/sys/bus/pci/devices/$1/net/"* "/sys/bus/pci/devices/$1/virtio"*/net/*)
	_ifaces=""
	local x
	for x in "${n[@]}"; do
		[ -e "$x" ] && _ifaces+="${_ifaces:+ }${x##*/}"
	done
	return 0
}

# _get_override ADDR: sets _override to driver_override ("" when unset).
_get_override() {
	_override=""
	read -r _override <"/sys/bus/pci/devices/$1/driver_override" 2>/dev/null
	[ "$_override" = "(null)" ] && _override=""
	return 0
}

drv() { _get_drv "$1" && printf '%s' "$_drv"; }
ifaces() { _get_ifaces "$1" && printf '%s' "$_ifaces"; }
override() { _get_override "$1" && printf '%s' "$_override"; }

# iommu_group ADDR: the device's IOMMU group ("" without an IOMMU).
iommu_group() {
	local p=/sys/bus/pci/devices/$1/iommu_group
	[ -e "$p" ] || return 0
	cd -P "$p" 2>/dev/null || return 0
	printf '%s' "${PWD##*/}"
	cd - >/dev/null || true
}

# is_kernel_nic_driver DRIVER: whether binding DRIVER gives an interface.
is_kernel_nic_driver() {
	case $1 in
	vfio-pci | uio_pci_generic | igb_uio | "") return 1 ;;
	esac
	return 0
}

# wait_driver ADDR DRIVER SECONDS: waits until the device is on DRIVER
# (and, for a kernel NIC driver, has its interface).
wait_driver() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		_get_drv "$1"
		if [ "$_drv" = "$2" ]; then
			_get_ifaces "$1"
			if ! is_kernel_nic_driver "$2" || [ -n "$_ifaces" ]; then
				return 0
			fi
		fi
		sleep 0.1
	done
	return 1
}

# want_driver ADDR DRIVER WHAT: fails unless the device is on DRIVER, with
# its interface back for a kernel driver and, for vfio-pci, its
# /dev/vfio/<group>.
want_driver() {
	if ! wait_driver "$1" "$2" 10; then
		fail "$3: $1 is on driver '$(drv "$1")' with interfaces '$(ifaces "$1")', want '$2'$(is_kernel_nic_driver "$2" && echo ' with an interface')"
	fi
	if [ "$2" = vfio-pci ]; then
		local g
		g=$(iommu_group "$1")
		[ -z "$g" ] || [ -c "/dev/vfio/$g" ] || fail "$3: $1 is on vfio-pci but /dev/vfio/$g does not exist"
	fi
	_get_ifaces "$1"
	log "ok: $1 on $2 $_ifaces"
}

# want_override_clear ADDR WHAT
want_override_clear() {
	_get_override "$1"
	[ -z "$_override" ] || fail "$2: $1 keeps driver_override '$_override'"
}

# baseline_check: prints what differs from the boot state (every NIC on
# its original driver, with an interface, without driver_override) and
# returns 1 when something does.
baseline_check() {
	local i a bad=""
	for i in "${!NICS[@]}"; do
		a=${NICS[$i]}
		_get_drv "$a"
		_get_ifaces "$a"
		_get_override "$a"
		if [ "$_drv" != "${NIC_DRIVERS[$i]}" ]; then
			bad+="$a on '$_drv' instead of ${NIC_DRIVERS[$i]}; "
		elif [ -z "$_ifaces" ]; then
			bad+="$a has no interface; "
		fi
		if [ -n "$_override" ]; then
			bad+="$a has driver_override '$_override'; "
		fi
	done
	[ -z "$bad" ] && return 0
	printf '%s\n' "${bad%; }"
	return 1
}

# baseline_restore: puts every NIC back on its original driver through
# sysfs directly (not through nettune), so that one failed scenario does not
# fail the next ones.
baseline_restore() {
	local i a
	for i in "${!NICS[@]}"; do
		a=${NICS[$i]}
		echo >"/sys/bus/pci/devices/$a/driver_override" 2>/dev/null
		if [ "$(drv "$a")" != "${NIC_DRIVERS[$i]}" ]; then
			[ -e "/sys/bus/pci/devices/$a/driver" ] && echo "$a" >"/sys/bus/pci/devices/$a/driver/unbind"
			modprobe "${NIC_MODULES[$i]:-${NIC_DRIVERS[$i]}}"
			echo "$a" >"/sys/bus/pci/drivers/${NIC_DRIVERS[$i]}/bind"
		fi
		wait_driver "$a" "${NIC_DRIVERS[$i]}" 10 || echo "cannot put $a back on ${NIC_DRIVERS[$i]}"
	done
	ip -o link show | sed 's/^/  /'
}

# eth_settings ADDR: the ring and coalescing settings of the device's
# interface as ethtool prints them, without the header line that names the
# interface (names can change when a device is rebound).
eth_settings() {
	local ifc
	ifc=$(ifaces "$1")
	[ -n "$ifc" ] || return 1
	ethtool -g "$ifc" | tail -n +2
	ethtool -c "$ifc" | tail -n +2
}

# revert_all_on_exit: a scenario that applies profiles calls this first, so
# that when it fails half-way its generations do not stay in the journal
# for the next scenario's revert to undo.
revert_all_on_exit() {
	trap 'nettune revert --all --yes >/dev/null 2>&1 || true' EXIT
}

# meminfo_hugepages FIELD: a HugePages_* value of /proc/meminfo.
meminfo_hugepages() { awk -v f="HugePages_$1:" '$1 == f {print $2}' /proc/meminfo; }
