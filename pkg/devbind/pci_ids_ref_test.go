package devbind

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
)

// refIDs is the plain reading of pci.ids that IDs replaced (maps of every
// name, one string per line): FuzzParseIDs checks that IDs names every ID
// as this does.
type refIDs struct {
	vendors    map[uint16]string
	devices    map[uint32]string
	classes    map[uint8]string
	subclasses map[uint16]string
}

func refParseIDs(rd io.Reader) (*refIDs, error) {
	ids := &refIDs{vendors: map[uint16]string{}, devices: map[uint32]string{}, classes: map[uint8]string{}, subclasses: map[uint16]string{}}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var (
		vendor            uint16
		class             uint8
		inVendor, inClass bool
	)
	split := func(s string) (string, string, bool) {
		id, name, ok := strings.Cut(s, " ")
		name = strings.TrimSpace(name)
		return id, name, ok && id != "" && name != ""
	}
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		switch {
		case strings.HasPrefix(line, "\t\t"):
		case line[0] == '\t':
			id, name, ok := split(line[1:])
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
			id, name, ok := split(line[2:])
			if !ok || len(id) != 2 {
				continue
			}
			if v, err := strconv.ParseUint(id, 16, 8); err == nil {
				class, inClass = uint8(v), true
				ids.classes[class] = name
			}
		default:
			inVendor, inClass = false, false
			id, name, ok := split(line)
			if !ok || len(id) != 4 {
				continue
			}
			if v, err := strconv.ParseUint(id, 16, 16); err == nil {
				vendor, inVendor = uint16(v), true
				ids.vendors[vendor] = name
			}
		}
	}
	return ids, sc.Err()
}

// sameNames fails t when ids and ref name any ID differently: every ID
// ref knows, and the neighbours it does not.
func sameNames(t *testing.T, ids *IDs, ref *refIDs) {
	t.Helper()
	for v, want := range ref.vendors {
		if got := ids.Vendor(v); got != want {
			t.Fatalf("Vendor(%04x) = %q, want %q", v, got, want)
		}
		if got, want := ids.Device(v, 0xfffe), ref.devices[uint32(v)<<16|0xfffe]; got != want {
			t.Fatalf("Device(%04x, fffe) = %q, want %q", v, got, want)
		}
	}
	for k, want := range ref.devices {
		if got := ids.Device(uint16(k>>16), uint16(k)); got != want {
			t.Fatalf("Device(%08x) = %q, want %q", k, got, want)
		}
	}
	classOf := func(code uint32) string {
		if n, ok := ref.subclasses[uint16(code>>8)]; ok {
			return n
		}
		return ref.classes[uint8(code>>16)]
	}
	for c := range ref.classes {
		for _, code := range []uint32{uint32(c) << 16, uint32(c)<<16 | 0xfe00} {
			if got, want := ids.Class(code), classOf(code); got != want {
				t.Fatalf("Class(%06x) = %q, want %q", code, got, want)
			}
		}
	}
	for k := range ref.subclasses {
		code := uint32(k) << 8
		if got, want := ids.Class(code), classOf(code); got != want {
			t.Fatalf("Class(%06x) = %q, want %q", code, got, want)
		}
	}
}

// TestIDsAgreeWithPlainReading: on this host's pci.ids (the whole file,
// when installed) every vendor, device and class is named as the plain
// reading names it.
func TestIDsAgreeWithPlainReading(t *testing.T) {
	inputs := map[string]string{"sample": idsSample}
	for _, p := range IDPaths {
		if b, err := readFileIfAny(p); err == nil {
			inputs[p] = b
			break
		}
	}
	for name, in := range inputs {
		ids, err := ParseIDs(strings.NewReader(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ref, _ := refParseIDs(strings.NewReader(in))
		sameNames(t, ids, ref)
	}
}

func readFileIfAny(p string) (string, error) {
	b, err := os.ReadFile(p)
	return string(b), err
}
