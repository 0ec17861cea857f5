package devbind

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/host"
)

// IDPaths are where distributions install the PCI ID database (pci.ids from
// pciutils or hwdata), in the order nettune looks.
var IDPaths = []string{"/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids", "/usr/share/pci.ids"}

// IDs holds the names of PCI vendors, devices and classes. The zero value
// and a nil *IDs know no names; lookups then return "".
type IDs struct {
	vendors    map[uint16]string
	devices    map[uint32]string
	classes    map[uint8]string
	subclasses map[uint16]string
}

// LoadIDs reads the first PCI ID database found under the root. A missing
// database is not an error: devices are then shown by number only.
func LoadIDs(r *host.Root) *IDs {
	for _, p := range IDPaths {
		f, err := os.Open(r.Path(p))
		if err != nil {
			continue
		}
		ids, err := ParseIDs(f)
		f.Close()
		if err == nil {
			return ids
		}
	}
	return nil
}

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
// stops nettune from listing devices.
func ParseIDs(rd io.Reader) (*IDs, error) {
	ids := &IDs{vendors: map[uint16]string{}, devices: map[uint32]string{}, classes: map[uint8]string{}, subclasses: map[uint16]string{}}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var (
		vendor   uint16
		class    uint8
		inVendor bool
		inClass  bool
	)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		switch {
		case strings.HasPrefix(line, "\t\t"):
			// Subsystem or programming interface: not shown.
		case line[0] == '\t':
			id, name, ok := idLine(line[1:])
			if !ok {
				continue
			}
			switch {
			case inVendor && len(id) == 4:
				if v, err := strconv.ParseUint(id, 16, 16); err == nil {
					ids.devices[uint32(vendor)<<16|uint32(v)] = name
				}
			case inClass && len(id) == 2:
				if v, err := strconv.ParseUint(id, 16, 8); err == nil {
					ids.subclasses[uint16(class)<<8|uint16(v)] = name
				}
			}
		case strings.HasPrefix(line, "C "):
			inVendor, inClass = false, false
			id, name, ok := idLine(line[2:])
			if !ok || len(id) != 2 {
				continue
			}
			v, err := strconv.ParseUint(id, 16, 8)
			if err != nil {
				continue
			}
			class, inClass = uint8(v), true
			ids.classes[class] = name
		default:
			inVendor, inClass = false, false
			id, name, ok := idLine(line)
			if !ok || len(id) != 4 {
				continue
			}
			v, err := strconv.ParseUint(id, 16, 16)
			if err != nil {
				continue
			}
			vendor, inVendor = uint16(v), true
			ids.vendors[vendor] = name
		}
	}
	return ids, sc.Err()
}

// idLine splits "8086  Intel Corporation" into its hex id and name.
func idLine(s string) (id, name string, ok bool) {
	id, name, ok = strings.Cut(s, " ")
	name = strings.TrimSpace(name)
	if !ok || id == "" || name == "" {
		return "", "", false
	}
	return strings.ToLower(id), name, true
}

// Vendor returns a vendor's name.
func (ids *IDs) Vendor(v uint16) string {
	if ids == nil {
		return ""
	}
	return ids.vendors[v]
}

// Device returns a device's name.
func (ids *IDs) Device(v, d uint16) string {
	if ids == nil {
		return ""
	}
	return ids.devices[uint32(v)<<16|uint32(d)]
}

// Class returns the name of a 24-bit class code (class, subclass, prog-if):
// the subclass name when known, else the class name.
func (ids *IDs) Class(code uint32) string {
	if ids == nil {
		return ""
	}
	if n, ok := ids.subclasses[uint16(code>>8)]; ok {
		return n
	}
	return ids.classes[uint8(code>>16)]
}
