// Package devbind takes PCI devices away from their kernel driver and gives
// them to another one (vfio-pci or uio_pci_generic for DPDK, or back to a
// kernel driver), and is the nettune module behind spec.devices.
//
// It reads an inventory of PCI functions from /sys/bus/pci under a root
// (address, IDs and names from pci.ids, driver, driver_override, network
// interfaces, NUMA node, IOMMU group and its members, the drivers that can
// take the device), and decides with guards whether a device may be bound:
// an interface that carries addresses, routes or the operator's SSH session,
// a port of a bond, bridge, VLAN or macvlan that is up, an IOMMU group whose
// other endpoints stay on kernel drivers, a host without IOMMU, a bifurcated
// driver (mlx5_core) are refused with a reason.
//
// Binding writes driver_override and then drivers_probe, never new_id (which
// drags every device with the same IDs along). The driver module is loaded
// with modprobe through the root's Runner, the driver link is read back, and
// any failure puts the original driver back, so nettune never leaves a
// device without a driver. Every binding is a plan.Change journaled by the
// engine, so 'nettune revert' undoes it; the same code serves 'nettune bind'
// and 'nettune unbind'.
//
// Network state for the guards (links, addresses, routes in every table)
// comes from netlink on the live host and from the file captured by
// 'nettune snapshot' (NetworkFile) on an offline root.
package devbind
