package devbind

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"sync"

	"github.com/nettune/nettune/pkg/host"
)

// IDPaths are where distributions install the PCI ID database (pci.ids from
// pciutils or hwdata), in the order nettune looks.
var IDPaths = []string{"/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids", "/usr/share/pci.ids"}

// IDs holds the names of PCI vendors, devices and classes. The zero value
// and a nil *IDs know no names; lookups then return "".
//
// pci.ids has some 40,000 device lines, of which a host shows a handful:
// the file is kept as it is, with the offsets of its vendor and class
// lines, and a lookup reads the lines of one vendor or class. Building
// maps of every name cost 30 ms and 36,000 allocations, most of what
// 'nettune devices' did.
type IDs struct {
	data    []byte
	vendors map[uint16][]int // offsets of each vendor line, in file order
	classes map[uint8][]int

	// The names of a vendor's devices or a class's subclasses, read in
	// one walk of its blocks at its first lookup: Intel's block alone is
	// ten thousand lines, and a host has many Intel functions.
	mu      sync.Mutex
	devices map[uint16]map[uint64]string
	subs    map[uint8]map[uint64]string
}

// LoadIDs reads the first PCI ID database found under the root. A missing
// database is not an error: devices are then shown by number only.
func LoadIDs(r *host.Root) *IDs {
	for _, p := range IDPaths {
		b, err := r.ReadFile(r.Path(p))
		if err != nil {
			continue
		}
		if ids, err := indexIDs(b); err == nil {
			return ids
		}
	}
	return nil
}

// maxIDLine is the longest line read, as a bufio.Scanner of 1 MiB.
const maxIDLine = 1 << 20

// ParseIDs parses the pci.ids format:
//
//	vvvv  Vendor name
//	<tab>dddd  Device name
//	<tab><tab>ssss ssss  Subsystem name   (ignored)
//	C cc  Class name
//	<tab>ss  Subclass name
//	<tab><tab>pp  Programming interface   (ignored)
//
// Lines it does not understand are skipped, so a newer file format never
// stops nettune from listing devices. A device or subclass line belongs to
// the vendor or class line before it (empty and comment lines between do
// not end a block); when an ID is named twice, the later name wins.
func ParseIDs(rd io.Reader) (*IDs, error) {
	b, err := io.ReadAll(rd)
	if err != nil {
		return nil, err
	}
	return indexIDs(b)
}

func indexIDs(data []byte) (*IDs, error) {
	ids := &IDs{data: data, vendors: map[uint16][]int{}, classes: map[uint8][]int{}}
	for off := 0; off < len(data); {
		line, next := idsLine(data, off)
		if len(line) > maxIDLine {
			return nil, bufio.ErrTooLong
		}
		switch {
		case len(line) == 0, line[0] == '#', line[0] == '\t':
		case len(line) > 1 && line[0] == 'C' && line[1] == ' ':
			if id, _, ok := idField(line[2:]); ok && len(id) == 2 {
				if v, err := strconv.ParseUint(string(id), 16, 8); err == nil {
					ids.classes[uint8(v)] = append(ids.classes[uint8(v)], off)
				}
			}
		default:
			if id, _, ok := idField(line); ok && len(id) == 4 {
				if v, err := strconv.ParseUint(string(id), 16, 16); err == nil {
					ids.vendors[uint16(v)] = append(ids.vendors[uint16(v)], off)
				}
			}
		}
		off = next
	}
	return ids, nil
}

// idsLine returns the line at off without its newline (and a carriage
// return before it, as bufio.ScanLines) and the offset of the next.
func idsLine(data []byte, off int) ([]byte, int) {
	end, next := len(data), len(data)
	if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
		end, next = off+i, off+i+1
	}
	line := data[off:end]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, next
}

// idField splits "8086  Intel Corporation" into its id and name.
func idField(s []byte) (id, name []byte, ok bool) {
	id, name, ok = bytes.Cut(s, []byte(" "))
	name = bytes.TrimSpace(name)
	if !ok || len(id) == 0 || len(name) == 0 {
		return nil, nil, false
	}
	return id, name, true
}

// header is the name on the header line at off (a vendor, or a class
// after "C ").
func (ids *IDs) header(off, skip int) string {
	line, _ := idsLine(ids.data, off)
	_, name, _ := idField(line[skip:])
	return string(name)
}

// members reads the blocks that start at offs (the lines after each
// header up to the next header): the name of each one-tab id of idLen hex
// digits, the last one when an id is named twice.
func (ids *IDs) members(offs []int, idLen int) map[uint64]string {
	found := map[uint64]string{}
	for _, off := range offs {
		_, off = idsLine(ids.data, off)
		for off < len(ids.data) {
			line, next := idsLine(ids.data, off)
			if len(line) > 0 && line[0] != '#' && line[0] != '\t' {
				break // the next header
			}
			off = next
			if len(line) < 2 || line[0] != '\t' || line[1] == '\t' {
				continue
			}
			id, name, ok := idField(line[1:])
			if !ok || len(id) != idLen {
				continue
			}
			if v, err := strconv.ParseUint(string(id), 16, 4*idLen); err == nil {
				found[v] = string(name)
			}
		}
	}
	return found
}

// Vendor returns a vendor's name.
func (ids *IDs) Vendor(v uint16) string {
	if ids == nil || len(ids.vendors[v]) == 0 {
		return ""
	}
	offs := ids.vendors[v]
	return ids.header(offs[len(offs)-1], 0)
}

// Device returns a device's name.
func (ids *IDs) Device(v, d uint16) string {
	if ids == nil {
		return ""
	}
	ids.mu.Lock()
	defer ids.mu.Unlock()
	m, ok := ids.devices[v]
	if !ok {
		if ids.devices == nil {
			ids.devices = map[uint16]map[uint64]string{}
		}
		m = ids.members(ids.vendors[v], 4)
		ids.devices[v] = m
	}
	return m[uint64(d)]
}

// Class returns the name of a 24-bit class code (class, subclass, prog-if):
// the subclass name when known, else the class name.
func (ids *IDs) Class(code uint32) string {
	if ids == nil {
		return ""
	}
	offs := ids.classes[uint8(code>>16)]
	ids.mu.Lock()
	m, ok := ids.subs[uint8(code>>16)]
	if !ok {
		if ids.subs == nil {
			ids.subs = map[uint8]map[uint64]string{}
		}
		m = ids.members(offs, 2)
		ids.subs[uint8(code>>16)] = m
	}
	ids.mu.Unlock()
	if n := m[uint64(code>>8&0xff)]; n != "" {
		return n
	}
	if len(offs) == 0 {
		return ""
	}
	return ids.header(offs[len(offs)-1], 2)
}
