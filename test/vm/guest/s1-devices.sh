#!/bin/bash
# Scenario 1: nettune devices lists both NICs with their driver, interface,
# IOMMU group and NUMA node exactly as sysfs has them, and agrees with
# dpdk-devbind.py --status on driver and interface name.
. /job/guest/lib.sh
need_cmd devices

nt devices.json devices -o json
want_rc 0 "nettune devices"
log "+ dpdk-devbind.py --status-dev net"
dpdk-devbind.py --status-dev net >"$W/devbind.txt" 2>&1 || fail "dpdk-devbind.py --status-dev net failed: $(tail -n1 "$W/devbind.txt")"
indent '  | ' "$W/devbind.txt"
check "nettune devices vs sysfs and dpdk-devbind.py" devices -devices "$W/devices.json" -devbind "$W/devbind.txt" "${NICS[@]}"
