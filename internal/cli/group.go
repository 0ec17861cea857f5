package cli

import (
	"fmt"
	"strings"

	"github.com/nettune/nettune/pkg/plan"
)

// checkRow is one line of check's table: an item, or a group of items.
type checkRow struct {
	Status                                   plan.Status
	Module, Object, Attribute, Before, After string
	Detail                                   string
}

// groupItems folds the items of one NIC's queues or queue IRQs that share
// status, module and attribute into one row ("64 rx queues of ens3f0"):
// a 256-CPU host with 16 NICs of 64 queues has over 4,000 items, which no
// one reads one by one. A value the rows share is shown; values that
// differ are counted. A group keeps the place of its first item; an item
// that is alone in its group stays as it is. check --verbose, -o json
// and -o yaml list every item.
func groupItems(items []plan.Item) []checkRow {
	type group struct {
		row                      checkRow
		n                        int
		nic, kind                string
		befores, afters, details map[string]bool
	}
	var order []*group
	groups := map[string]*group{}
	for _, it := range items {
		row := checkRow{it.Status, it.Module, it.Object, it.Attribute, it.Before, it.After, it.Detail}
		qg, ok := plan.QueueGroupOf(it.Object)
		nic, kind := qg.NIC, qg.Kind
		if !ok || it.Orphan {
			order = append(order, &group{row: row, n: 1})
			continue
		}
		key := strings.Join([]string{string(it.Status), it.Module, nic, kind, it.Attribute}, "\x00")
		g := groups[key]
		if g == nil {
			g = &group{row: row, nic: nic, kind: kind, befores: map[string]bool{}, afters: map[string]bool{}, details: map[string]bool{}}
			groups[key] = g
			order = append(order, g)
		}
		g.n++
		g.befores[it.Before], g.afters[it.After], g.details[it.Detail] = true, true, true
	}
	out := make([]checkRow, 0, len(order))
	for _, g := range order {
		if g.n > 1 {
			g.row.Object = fmt.Sprintf("%d %s of %s", g.n, g.kind, g.nic)
			g.row.Before = shared(g.befores, g.row.Before, "values")
			g.row.After = shared(g.afters, g.row.After, "values")
			g.row.Detail = shared(g.details, g.row.Detail, "details: --verbose")
		}
		out = append(out, g.row)
	}
	return out
}

// shared is the value every row of a group has, or how many there are.
func shared(vals map[string]bool, first, what string) string {
	if len(vals) == 1 {
		return first
	}
	return fmt.Sprintf("(%d %s)", len(vals), what)
}

// checkRows are the table rows of check: every item with verbose, else
// groupItems.
func checkRows(items []plan.Item, verbose bool) []checkRow {
	if !verbose {
		return groupItems(items)
	}
	out := make([]checkRow, len(items))
	for i, it := range items {
		out[i] = checkRow{it.Status, it.Module, it.Object, it.Attribute, it.Before, it.After, it.Detail}
	}
	return out
}
