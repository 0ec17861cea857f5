package cli

import (
	"fmt"
	"os"

	"github.com/nettune/nettune/pkg/diagnose"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/planner"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/spf13/cobra"
)

func (a *app) profileCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "Work with profiles (generate one for this host)",
	}
	cmd.AddCommand(a.profileGenerateCommand())
	return cmd
}

func (a *app) profileGenerateCommand() *cobra.Command {
	var (
		req      planner.Request
		pageSize string
		out      string
	)
	cmd := &cobra.Command{
		Use:   "generate --nic NAME|PCI... --cores N [--hugepages 2M|1G]",
		Short: "Write a DPDK forwarder profile for this host's topology",
		Long: `Write a profile that gives the named NICs to the DPDK forwarder: N data-plane
cores on the NICs' NUMA nodes (one per physical core; SMT siblings left idle
unless --use-siblings), at least one whole core per node and CPU 0 kept for
housekeeping, isolation, irqbalance, IRQ affinity and RPS masks derived from
those two sets, vfio-pci bindings, and hugepages sized for the forwarder's
pools. Review it, then: nettune validate FILE && nettune plan FILE.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eng, err := a.engine()
			if err != nil {
				return err
			}
			r := eng.Env.Root
			topo, err := numa.Read(r)
			if err != nil {
				return err
			}
			if pageSize != "" {
				if req.PageSize, err = profile.ParseSize(pageSize); err != nil {
					return err
				}
			}
			req.Gigantic, _ = diagnose.CPUHasFlag(r, "pdpe1gb")
			p, err := planner.Make(topo, req)
			if err != nil {
				return err
			}
			b, err := p.Render(topo)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = a.io.Out.Write(b)
				return err
			}
			if err := os.WriteFile(out, b, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(a.io.ErrOut, "wrote %s: workers %s, isolated %s, housekeeping %s\n", out, p.Workers, p.Isolated, p.Housekeeping)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&req.NICs, "nic", nil, "NIC for the data plane: interface name or PCI address (repeatable)")
	f.IntVar(&req.Cores, "cores", 0, "number of data-plane worker CPUs")
	f.StringVar(&pageSize, "hugepages", "", "hugepage size, 2M or 1G (default 1G when the CPU has pdpe1gb)")
	f.BoolVar(&req.UseSiblings, "use-siblings", false, "put workers on SMT siblings too instead of leaving them idle")
	f.StringVar(&req.Name, "name", "", "metadata.name of the profile")
	f.StringVarP(&out, "file", "f", "", "write the profile to this file instead of stdout")
	cmd.MarkFlagRequired("nic")
	cmd.MarkFlagRequired("cores")
	return cmd
}
