package cli

import (
	"fmt"
	"strings"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/devbind"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/spf13/cobra"
)

func (a *app) devicesCommand() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use: "devices",
		Example: `  nettune devices
  nettune devices --all -o json`,
		Short: "List PCI network devices: driver, interface, NUMA node, IOMMU group, usable drivers, in use or not",
		Long: `List the PCI network devices (and the crypto, co-processor and accelerator
devices DPDK drives; --all for every PCI device) with their vendor and
device IDs and names, current driver, kernel interface, NUMA node, IOMMU
group and the other devices in it, the drivers that can take them, and
whether they are in use: an interface with addresses, routes in any table,
an SSH session, or one that is a port of a bond, bridge or VLAN that is up,
or disks that back a mounted filesystem, swap, or an md, dm or LVM device
("backs / (vda1)"; --all shows storage controllers).
Those are the guards 'nettune bind' applies.

Names come from pci.ids when the host has it. On an offline --root the
network state comes from the file 'nettune snapshot' captured. Read-only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := host.New(a.g.root)
			if err != nil {
				return err
			}
			journal, err := engine.JournalChanges(r)
			if err != nil {
				return fmt.Errorf("read journal: %w", err)
			}
			p := devbind.NewPlanner(r, journal)
			inv, err := p.Devices(cmd.Context(), devbind.LoadIDs(r))
			if err != nil {
				return err
			}
			return a.printDevices(inv, all)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "list every PCI device, bridges included")
	return cmd
}

func (a *app) printDevices(inv *devbind.Inventory, all bool) error {
	devs := []*devbind.Device{}
	for _, d := range inv.Devices {
		if all || d.Listed() {
			devs = append(devs, d)
		}
	}
	return a.printer.Print(output.Document{
		Kind: "devices",
		Body: struct {
			IOMMU       bool              `json:"iommu"`
			NoIOMMUMode string            `json:"noIOMMUMode"`
			Devices     []*devbind.Device `json:"devices"`
		}{inv.IOMMU, inv.NoIOMMUMode, devs},
		Table: func(t *output.TableWriter) {
			if len(devs) == 0 {
				t.Line("No PCI network devices.")
			} else {
				var rows [][]string
				for _, d := range devs {
					rows = append(rows, deviceRow(t, d))
				}
				t.Rows([]string{"ADDRESS", "ID", "NAME", "DRIVER", "INTERFACE", "NUMA", "IOMMU GROUP", "USABLE DRIVERS", "IN USE"}, rows)
			}
			notes := deviceNotes(inv, devs)
			if len(notes) > 0 {
				t.Line("")
				for _, n := range notes {
					t.Line("%s", n)
				}
			}
		},
	})
}

func deviceRow(t *output.TableWriter, d *devbind.Device) []string {
	name := d.DeviceName
	if name == "" {
		name = strings.TrimSpace(d.VendorName + " " + d.ClassName)
	}
	node := "-"
	if d.NUMANode >= 0 {
		node = fmt.Sprint(d.NUMANode)
	}
	group := d.IOMMUGroup
	if group == "" {
		group = "-"
	} else if n := len(d.GroupPeers); n > 0 {
		group += fmt.Sprintf(" (+%d)", n)
	}
	use := "no"
	if d.Active {
		use = t.Colorize("red", "yes")
	}
	return []string{
		d.Address, d.VendorID + ":" + d.DeviceID, output.Abbrev(dash(name), 40), dash(d.Driver),
		dash(strings.Join(d.Interfaces, ",")), node, group, dash(strings.Join(d.Drivers, ",")), use,
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// deviceNotes explains what the table abbreviates: why a device is in
// use, who shares its IOMMU group, bifurcated drivers, and the IOMMU.
func deviceNotes(inv *devbind.Inventory, devs []*devbind.Device) []string {
	var notes []string
	for _, d := range devs {
		who := d.Address
		if len(d.Interfaces) > 0 {
			who += " (" + strings.Join(d.Interfaces, ",") + ")"
		}
		for _, r := range d.Reasons {
			notes = append(notes, fmt.Sprintf("%s in use: %s", who, r))
		}
		for _, n := range d.Notes {
			notes = append(notes, fmt.Sprintf("%s %s", who, n))
		}
		if len(d.GroupPeers) > 0 {
			notes = append(notes, fmt.Sprintf("%s shares IOMMU group %s with %s", who, d.IOMMUGroup, strings.Join(peerNames(inv, d.GroupPeers), ", ")))
		}
		if d.TotalVFs > 0 {
			vfs := "no VFs"
			if len(d.VirtFns) > 0 {
				vfs = "VFs " + strings.Join(d.VirtFns, ", ")
			}
			notes = append(notes, fmt.Sprintf("%s is an SR-IOV PF (%d of %d VFs): %s", who, len(d.VirtFns), d.TotalVFs, vfs))
		}
		if d.PhysFn != "" {
			notes = append(notes, fmt.Sprintf("%s is VF %d of PF %s", who, d.VFIndex, d.PhysFn))
		}
		if devbind.Bifurcated(d.Driver) {
			notes = append(notes, fmt.Sprintf("%s: %s is bifurcated; DPDK uses the device without unbinding it", who, d.Driver))
		}
	}
	switch {
	case !inv.IOMMU && inv.NoIOMMUMode == "Y":
		notes = append(notes, "No IOMMU; vfio runs in unsafe no-IOMMU mode.")
	case !inv.IOMMU:
		notes = append(notes, "No IOMMU: vfio-pci needs --no-iommu (unsafe: no DMA isolation); uio_pci_generic works without it.")
	}
	return notes
}

func peerNames(inv *devbind.Inventory, peers []string) []string {
	var out []string
	for _, p := range peers {
		pd := inv.Get(p)
		if pd == nil {
			out = append(out, p)
			continue
		}
		what := dash(pd.Driver)
		if !pd.Endpoint() {
			what = strings.TrimPrefix(pd.Driver+", ", ", ") + "bridge"
		}
		out = append(out, fmt.Sprintf("%s (%s)", p, what))
	}
	return out
}
