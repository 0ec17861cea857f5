package nics

import (
	"os"
	"strconv"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/irqaffinity"
)

// managedIRQs tells which IRQs cannot be moved: the kernel's debugfs marks
// them managed (irqaffinity.Managed), or an earlier apply found out and
// recorded them under ManagedDir. Both directories are looked at once: a
// host with thousands of queue IRQs made a path walk or two per IRQ.
type managedIRQs struct {
	r        *host.Root
	debugfs  bool
	recorded map[int]bool
}

func readManaged(r *host.Root) *managedIRQs {
	m := &managedIRQs{r: r, recorded: map[int]bool{}}
	if p, err := r.Resolve(r.Path(ManagedDir)); err == nil {
		entries, _ := os.ReadDir(p)
		for _, e := range entries {
			if n, err := strconv.Atoi(e.Name()); err == nil {
				m.recorded[n] = true
			}
		}
	}
	if p, err := r.Resolve(r.Sys("kernel/debug/irq/irqs")); err == nil {
		st, err := os.Stat(p)
		m.debugfs = err == nil && st.IsDir()
	}
	return m
}

func (m *managedIRQs) has(irq int) bool {
	return m.recorded[irq] || m.debugfs && irqaffinity.Managed(m.r, irq)
}
