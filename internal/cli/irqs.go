package cli

import (
	"fmt"
	"strconv"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/nics"
	"github.com/spf13/cobra"
)

func (a *app) irqsCommand() *cobra.Command {
	return &cobra.Command{
		Use: "irqs [NIC]",
		Example: `  nettune irqs
  nettune irqs 'ens1f*'
  nettune irqs -o json enp175s0f0`,
		Short: "Show each NIC queue's IRQ, its requested and effective CPUs, and NUMA nodes",
		Long: `Map every queue of the NICs (or of the NICs whose name matches NIC, a shell
glob) to its interrupt, from the device's MSI vectors and the names in
/proc/interrupts, and show where the interrupt may run (smp_affinity_list),
where it runs (effective_affinity_list), the NUMA node of the NIC and of
those CPUs, and how many interrupts it took. A "!" after the CPU nodes marks
an IRQ served from another node than its NIC's. Nothing is written.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := host.New(a.g.root)
			if err != nil {
				return err
			}
			pattern := ""
			if len(args) == 1 {
				pattern = args[0]
			}
			rows, err := nics.IRQTable(r, pattern)
			if err != nil {
				return err
			}
			if rows == nil {
				rows = []nics.IRQRow{}
			}
			return a.printer.Print(output.Document{
				Kind: "irqs",
				Body: struct {
					IRQs []nics.IRQRow `json:"irqs"`
				}{rows},
				Table: func(t *output.TableWriter) {
					if len(rows) == 0 {
						t.Line("No NIC interrupts found.")
						return
					}
					var cells [][]string
					for _, row := range rows {
						node := "-"
						if row.Node >= 0 {
							node = strconv.Itoa(row.Node)
						}
						cpuNodes := nics.FormatNodes(row.CPUNodes)
						if row.Remote() {
							cpuNodes += " !"
						}
						eff := row.Effective.String()
						if eff == "" {
							eff = "-"
						}
						if row.Managed {
							eff += " (managed)"
						}
						cells = append(cells, []string{row.NIC, row.Queue, strconv.Itoa(row.IRQ), row.Requested.String(), eff, node, cpuNodes, fmt.Sprint(row.Count)})
					}
					t.Rows([]string{"NIC", "QUEUE", "IRQ", "REQUESTED", "EFFECTIVE", "NIC NODE", "CPU NODES", "INTERRUPTS"}, cells)
				},
			})
		},
	}
}
