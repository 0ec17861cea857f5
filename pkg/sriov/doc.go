// Package sriov manages spec.sriov: the number of SR-IOV virtual functions
// (VFs) of each physical function (PF) through
// /sys/bus/pci/devices/PF/sriov_numvfs (bounded by sriov_totalvfs, changed
// between two non-zero counts only through 0, as the kernel demands), the
// sriov_drivers_autoprobe choice, and each VF's MAC, VLAN, trust, spoof
// check, link state and rates through netlink on the PF (IFLA_VF_*, read
// back from IFLA_VFINFO_LIST). It runs before spec.devices, which binds
// VFs by PF and index. Revert removes VFs only while none is in use.
package sriov
