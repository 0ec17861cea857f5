package cli

import (
	"fmt"
	"os"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/snapshot"
	"github.com/spf13/cobra"
)

func (a *app) snapshotCommand() *cobra.Command {
	return &cobra.Command{
		Use: "snapshot DIR",
		Example: `  nettune snapshot ./host-snap
  nettune --root ./host-snap plan kernel-throughput`,
		Short: "Copy the files nettune reads from the host into DIR, for --root DIR",
		Long: `Copy the host files nettune reads (/proc/sys, CPU and NUMA topology, hugepage
pools, network and PCI device attributes, sysctl.d, bootloader and irqbalance
configuration) into DIR. Only small text files are copied; secrets such as
/proc/sys/kernel/random are left out. Afterwards 'nettune plan|check --root
DIR PROFILE' works against the copy, on this machine or another one.

DIR must not exist or be empty. The source is the --root host.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
				return fmt.Errorf("snapshot directory %s is not empty", dir)
			}
			st, err := snapshot.Take(a.g.root, dir)
			if err != nil {
				return err
			}
			return a.printer.Print(output.Document{Kind: "snapshot", Body: struct {
				Dir     string `json:"dir"`
				Files   int    `json:"files"`
				Links   int    `json:"links"`
				Skipped int    `json:"skipped"`
			}{dir, st.Files, st.Links, st.Skipped}, Table: func(t *output.TableWriter) {
				t.Line("Copied %d files and %d links into %s (%d skipped: binary, unreadable or too large).", st.Files, st.Links, dir, st.Skipped)
				t.Line("Use it with: nettune --root %s plan PROFILE", dir)
			}})
		},
	}
}
