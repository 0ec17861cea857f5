package hugepages

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/host"
)

const fstabPath = "/etc/fstab"

// fstabMarker precedes every line nettune adds to /etc/fstab; together
// they are removed again by revert.
func fstabMarker(path string) string {
	return "# Managed by nettune: hugetlbfs " + path + " (spec.hugepages.mounts); 'nettune revert' removes these two lines."
}

// fstabEntry is one mount line of /etc/fstab or /proc/mounts.
type fstabEntry struct {
	// index is the line's index in the file.
	index   int
	source  string
	file    string
	fstype  string
	options string
}

// parseFstab reads fstab(5) syntax (also that of /proc/mounts): six
// whitespace-separated fields, octal escapes (\040 for a space) in the
// first two, # comments.
func parseFstab(content string) []fstabEntry {
	var out []fstabEntry
	for i, l := range strings.Split(content, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		f := strings.Fields(t)
		if len(f) < 3 {
			continue
		}
		e := fstabEntry{index: i, source: unescape(f[0]), file: unescape(f[1]), fstype: f[2]}
		if len(f) > 3 {
			e.options = f[3]
		}
		out = append(out, e)
	}
	return out
}

// unescape decodes the octal escapes of fstab and /proc/mounts.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ownedEntry finds nettune's line for a mount point: the line after its
// marker. It returns the marker's index, or -1.
func ownedEntry(lines []string, path string) int {
	for i, l := range lines {
		if l == fstabMarker(path) && i+1 < len(lines) {
			return i
		}
	}
	return -1
}

// setFstab returns the file with nettune's line for path set to line, or
// removed when line is empty. A new entry is appended after the last line;
// in a file without a final newline it goes before the last line, so that
// removing it gives back the original bytes.
func setFstab(content, path, line string) string {
	lines := strings.Split(content, "\n")
	if i := ownedEntry(lines, path); i >= 0 {
		if line == "" {
			return strings.Join(slices.Delete(lines, i, i+2), "\n")
		}
		lines[i+1] = line
		return strings.Join(lines, "\n")
	}
	if line == "" {
		return content
	}
	block := fstabMarker(path) + "\n" + line + "\n"
	if content == "" || strings.HasSuffix(content, "\n") {
		return content + block
	}
	last := strings.LastIndexByte(content, '\n') + 1
	return content[:last] + block + content[last:]
}

// ownedLine returns nettune's line for path in a file, or "".
func ownedLine(content, path string) string {
	lines := strings.Split(content, "\n")
	if i := ownedEntry(lines, path); i >= 0 {
		return lines[i+1]
	}
	return ""
}

// foreignEntry returns an entry for path that nettune did not write.
func foreignEntry(content, path string) (fstabEntry, bool) {
	lines := strings.Split(content, "\n")
	for _, e := range parseFstab(content) {
		if e.file != path {
			continue
		}
		if e.index > 0 && lines[e.index-1] == fstabMarker(path) {
			continue
		}
		return e, true
	}
	return fstabEntry{}, false
}

// fstabLine is the line nettune writes for a mount. nofail keeps a boot
// going when the page size is not available (a kernel without 1G pages).
func fstabLine(path, options string) string {
	return fmt.Sprintf("hugetlbfs %s hugetlbfs %s,nofail 0 0", path, options)
}

// fstabCommand is the shell equivalent of setting nettune's line for a
// mount point in /etc/fstab under the root, planned from content. Like
// setFstab it replaces the line after nettune's marker, or adds the marked
// line at the end (before the last line of a file without a final
// newline), so that the commands of several mount points, run in order,
// give the bytes apply writes.
func fstabCommand(r *host.Root, content, path, line string) string {
	f := host.ShellQuote(r.Path(fstabPath))
	marker := fstabMarker(path)
	if ownedEntry(strings.Split(content, "\n"), path) >= 0 {
		d := "%"
		for _, c := range "%#@~!," {
			if !strings.ContainsRune(marker+line, c) {
				d = string(c)
				break
			}
		}
		re := strings.NewReplacer(`\`, `\\`, ".", `\.`, "*", `\*`, "[", `\[`, "]", `\]`, "^", `\^`, "$", `\$`).Replace(marker)
		repl := strings.NewReplacer(`\`, `\\`, "&", `\&`).Replace(line)
		return "sed -i " + host.ShellQuote(`\`+d+"^"+re+"$"+d+"{n;s"+d+".*"+d+repl+d+"}") + " " + f
	}
	if content == "" || strings.HasSuffix(content, "\n") {
		return fmt.Sprintf("printf '%%s\\n' %s %s >> %s", host.ShellQuote(marker), host.ShellQuote(line), f)
	}
	return "sed -i -e " + host.ShellQuote(`$i\`+marker) + " -e " + host.ShellQuote(`$i\`+line) + " " + f
}
