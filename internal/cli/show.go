package cli

import (
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/ethtool"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/nics"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/spf13/cobra"
)

// showBody is the JSON/YAML shape of show NIC. A section is null when it
// could not be read; Errors says why, by section name.
type showBody struct {
	NIC        nics.NIC                   `json:"nic"`
	Rings      *ethtool.Rings             `json:"rings"`
	Channels   *ethtool.Channels          `json:"channels"`
	Coalesce   *ethtool.Coalesce          `json:"coalesce"`
	Features   map[string]ethtool.Feature `json:"features"`
	RSS        *rssBody                   `json:"rss"`
	TxQueueLen *int                       `json:"txQueueLen"`
	IRQs       []nics.IRQRow              `json:"irqs"`
	Errors     map[string]string          `json:"errors,omitempty"`
}

// rssBody is the RSS indirection table (ethtool -x): entry i is the rx
// queue of hash bucket i.
type rssBody struct {
	Table []uint32 `json:"table"`
}

func (a *app) showCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show NIC",
		Short: "Show a NIC's rings, channels, coalescing, features, RSS table and IRQs",
		Long: `Show what ethtool -g, -l, -c, -k and -x report for NIC (an interface name
or its PCI address), its transmit queue length, and each queue's interrupt
with its requested and effective CPUs (as 'nettune irqs NIC'), in one
table or one JSON document. A section the device does not support is shown
as such. Nothing is written.

On an offline --root the ethtool values come from the root's state files
(` + "var/lib/nettune-snapshot/ethtool/NIC.json" + `, as 'nettune snapshot' writes them).`,
		Example: `  nettune show eth0
  nettune show 0000:af:00.0 -o json
  nettune --root ./snapshot show ens1f0`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := host.New(a.g.root)
			if err != nil {
				return err
			}
			body, err := showNIC(r, args[0])
			if err != nil {
				return err
			}
			return a.printer.Print(output.Document{Kind: "nic", Body: body, Table: func(t *output.TableWriter) { renderNIC(t, body) }})
		},
	}
}

// showNIC reads everything show prints about one NIC.
func showNIC(r *host.Root, arg string) (*showBody, error) {
	topo, err := numa.Read(r)
	if err != nil {
		return nil, err
	}
	eth, err := ethtool.Open(r)
	if err != nil {
		return nil, fmt.Errorf("open ethtool: %w", err)
	}
	defer eth.Close()
	inv, err := nics.ReadInventory(r, topo, eth)
	if err != nil {
		return nil, err
	}
	var nic *nics.NIC
	for i, n := range inv.NICs {
		if n.Name == arg || (n.PCI != "" && n.PCI == profile.NormalizePCI(arg)) {
			nic = &inv.NICs[i]
			break
		}
	}
	if nic == nil {
		return nil, fmt.Errorf("no NIC %q on this host; NICs: %s", arg, inv.Names())
	}
	b := &showBody{NIC: *nic, Errors: map[string]string{}}
	name := nic.Name
	fail := func(section string, err error) {
		if errors.Is(err, ethtool.ErrNotSupported) {
			b.Errors[section] = "not supported by the device"
			return
		}
		b.Errors[section] = err.Error()
	}
	if v, err := eth.Rings(name); err != nil {
		fail("rings", err)
	} else {
		b.Rings = &v
	}
	if v, err := eth.Channels(name); err != nil {
		fail("channels", err)
	} else {
		b.Channels = &v
	}
	if v, err := eth.Coalesce(name); err != nil {
		fail("coalesce", err)
	} else {
		b.Coalesce = &v
	}
	if v, err := eth.Features(name); err != nil {
		fail("features", err)
	} else {
		b.Features = v
	}
	if v, err := eth.Indir(name); err != nil {
		fail("rss", err)
	} else {
		b.RSS = &rssBody{Table: v}
	}
	if v, err := eth.TxQueueLen(name); err != nil {
		fail("txQueueLen", err)
	} else {
		b.TxQueueLen = &v
	}
	if b.IRQs, err = nics.IRQTable(r, name); err != nil {
		fail("irqs", err)
	}
	if b.IRQs == nil {
		b.IRQs = []nics.IRQRow{}
	}
	if len(b.Errors) == 0 {
		b.Errors = nil
	}
	return b, nil
}

func renderNIC(t *output.TableWriter, b *showBody) {
	n := b.NIC
	node := "-"
	if n.Node >= 0 {
		node = strconv.Itoa(n.Node)
	}
	t.Line("%s  driver %s  pci %s  numa node %s  mac %s", t.Colorize("bold", n.Name), dash(n.Driver), dash(n.PCI), node, dash(n.MAC))
	section := func(title, key string) bool {
		t.Line("")
		t.Line("%s", t.Colorize("bold", title))
		if msg, ok := b.Errors[key]; ok {
			t.Line("  %s", msg)
			return false
		}
		return true
	}
	u := func(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
	if section("Rings (ethtool -g)", "rings") {
		t.Rows([]string{"RING", "CURRENT", "MAX"}, [][]string{{"rx", u(b.Rings.RX), u(b.Rings.RXMax)}, {"tx", u(b.Rings.TX), u(b.Rings.TXMax)}})
	}
	if section("Channels (ethtool -l)", "channels") {
		c := b.Channels
		t.Rows([]string{"CHANNEL", "CURRENT", "MAX"}, [][]string{
			{"rx", u(c.RX), u(c.MaxRX)}, {"tx", u(c.TX), u(c.MaxTX)},
			{"other", u(c.Other), u(c.MaxOther)}, {"combined", u(c.Combined), u(c.MaxCombined)},
		})
	}
	if section("Coalescing (ethtool -c)", "coalesce") {
		c := b.Coalesce
		onOff := func(v bool) string {
			if v {
				return "on"
			}
			return "off"
		}
		var rows [][]string
		for _, p := range []struct{ name, value string }{
			{"adaptive-rx", onOff(c.AdaptiveRX)}, {"adaptive-tx", onOff(c.AdaptiveTX)},
			{"rx-usecs", u(c.RXUsecs)}, {"rx-frames", u(c.RXFrames)},
			{"tx-usecs", u(c.TXUsecs)}, {"tx-frames", u(c.TXFrames)},
		} {
			v := p.value
			if !c.Supports(p.name) {
				v = "n/a"
			}
			rows = append(rows, []string{p.name, v})
		}
		t.Rows([]string{"PARAMETER", "VALUE"}, rows)
	}
	if section("Features (ethtool -k)", "features") {
		names := make([]string, 0, len(b.Features))
		for k := range b.Features {
			names = append(names, k)
		}
		sort.Strings(names)
		var rows [][]string
		for _, k := range names {
			f := b.Features[k]
			state := "off"
			if f.Active {
				state = "on"
			}
			if f.Fixed {
				state += " [fixed]"
			}
			rows = append(rows, []string{k, state})
		}
		t.Rows([]string{"FEATURE", "STATE"}, rows)
	}
	if section("RSS indirection table (ethtool -x)", "rss") {
		count := map[uint32]int{}
		var queues []uint32
		for _, q := range b.RSS.Table {
			if count[q] == 0 {
				queues = append(queues, q)
			}
			count[q]++
		}
		sort.Slice(queues, func(i, j int) bool { return queues[i] < queues[j] })
		t.Line("%d entries over %d rx queue(s)", len(b.RSS.Table), len(queues))
		var rows [][]string
		for _, q := range queues {
			rows = append(rows, []string{u(q), strconv.Itoa(count[q])})
		}
		if len(rows) > 0 {
			t.Rows([]string{"QUEUE", "ENTRIES"}, rows)
		}
	}
	if section("Transmit queue length", "txQueueLen") {
		t.Line("  %d", *b.TxQueueLen)
	}
	if section("IRQs", "irqs") {
		if len(b.IRQs) == 0 {
			t.Line("  no interrupts found for this NIC")
			return
		}
		var rows [][]string
		for _, q := range b.IRQs {
			eff := q.Effective.String()
			if eff == "" {
				eff = "-"
			}
			if q.Managed {
				eff += " (managed)"
			}
			cpuNodes := nics.FormatNodes(q.CPUNodes)
			if q.Remote() {
				cpuNodes += " !"
			}
			rows = append(rows, []string{q.Queue, strconv.Itoa(q.IRQ), q.Requested.String(), eff, cpuNodes, fmt.Sprint(q.Count)})
		}
		t.Rows([]string{"QUEUE", "IRQ", "REQUESTED", "EFFECTIVE", "CPU NODES", "INTERRUPTS"}, rows)
	}
}
