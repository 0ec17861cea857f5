package cli

import (
	"fmt"
	"os"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/diagnose"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/planner"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/spf13/cobra"
)

func (a *app) profileCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "Work with profiles (show one resolved, generate one for this host)",
		Example: `  nettune profile show kernel-throughput
  nettune profile generate --nic ens1f0 --cores 4`,
	}
	cmd.AddCommand(a.profileShowCommand(), a.profileGenerateCommand())
	return cmd
}

func (a *app) profileShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show PROFILE",
		Short: "Print a profile with its extends chain resolved, as YAML or JSON",
		Long: `Print PROFILE (a file, or a name looked up in ` + profile.EtcDir + ` and then
among the shipped profiles, as 'nettune list' shows them) as one
self-contained document: the profiles it extends merged in, extends
removed. This is what 'nettune install' records. The output is a profile
(YAML by default and with -o yaml, JSON with -o json) that plan and apply
accept as it is. Nothing is written.`,
		Example: `  nettune profile show kernel-throughput
  nettune profile show ./my-host.yaml -o json
  nettune profile show kernel-throughput > /etc/nettune/profiles/my-host.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := profile.Flatten(args[0])
			if err != nil {
				return err
			}
			return a.writeProfile(b)
		},
	}
}

// writeProfile prints a profile document: YAML, or JSON with -o json.
func (a *app) writeProfile(yamlDoc []byte) error {
	if a.printer.Format == output.JSON {
		j, err := output.YAMLToJSON(yamlDoc)
		if err != nil {
			return err
		}
		yamlDoc = j
	}
	_, err := a.io.Out.Write(yamlDoc)
	return err
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
pools. Review it, then: nettune validate FILE && nettune plan FILE.

The profile is YAML, with notes as comments; -o json prints it as JSON
(without the notes).`,
		Example: `  nettune profile generate --nic ens1f0 --cores 4 -f dpdk.yaml
  nettune profile generate --nic 0000:af:00.0 --nic 0000:af:00.1 --cores 8 --hugepages 1G
  nettune profile generate --nic ens1f0 --cores 2 -o json`,
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
				return a.writeProfile(b)
			}
			if a.printer.Format == output.JSON {
				if b, err = output.YAMLToJSON(b); err != nil {
					return err
				}
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
