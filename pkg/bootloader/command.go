package bootloader

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"

	"github.com/nettune/nettune/pkg/host"
)

// The shell form of a change, for plans (nettune apply --dry-run).
//
// Several modules edit the same file (/etc/default/grub, /etc/kernel/cmdline)
// and each plans from the file as it is before apply. A command that wrote
// the line or the file computed from that content would drop the arguments
// an earlier change of the same plan added. The commands are therefore
// relative edits: a sed script that finds the module's own words (which no
// other module writes, since modules own disjoint names) and replaces,
// removes or inserts exactly what apply does, wherever the other modules'
// words ended up. Run in plan order, the commands give the bytes apply
// writes. The few shapes a sed script cannot follow exactly (a bare
// unquoted value, kernel quotes in the line, a multi-line
// /etc/kernel/cmdline) get the whole new content behind a checksum of the
// planned-from content: the command refuses to run when an earlier change
// touched the file, instead of silently undoing it.

// commandText is the shell equivalent of a change. Paths are under the
// root; with a root other than "/", the regeneration of the boot menu is
// only named in a comment, because apply does not run it there either.
func (t Target) commandText(r *host.Root, st *state, next string, remove bool, mod string, names, args []string, cmds []command) string {
	s := t.editCommand(r, st, next, remove, mod, names, args)
	if len(cmds) == 0 {
		return s
	}
	var regen []string
	for _, c := range cmds {
		regen = append(regen, c.String())
	}
	if !r.Live() {
		return s + " # not run under --root; on the host that boots from this root: " + strings.Join(regen, " && ")
	}
	return s + " && " + strings.Join(regen, " && ")
}

// editCommand is the file edit of a change.
func (t Target) editCommand(r *host.Root, st *state, next string, remove bool, mod string, names, args []string) string {
	path := r.Path(t.Path)
	qp := host.ShellQuote(path)
	switch t.Kind {
	case GRUBDropIn:
		// The drop-in belongs to one module: the whole file is its change.
		if remove {
			return "rm -f " + qp
		}
		return writeCommand(path, next)
	case KernelInstall:
		line := strings.TrimSuffix(st.base, "\n")
		script, ok := "", line != "" && !strings.Contains(line, "\n")
		if ok {
			script, ok = relativeEdit(parseLine(line, false), "", "", names, args)
		}
		if st.exists {
			if ok {
				return sedCommand("1", script, path)
			}
			return guardedWrite(path, st.content, next)
		}
		if ok {
			// An earlier change of the plan may create the file from the
			// same line; edit it then as apply would.
			return fmt.Sprintf("if [ -e %s ]; then %s; else %s; fi", qp, sedCommand("1", script, path), writeCommand(path, next))
		}
		return fmt.Sprintf("if [ -e %s ]; then %s; else %s; fi", qp, changedSincePlan(path), writeCommand(path, next))
	case GRUB, Grubby:
		lines := splitLines(st.content)
		as := assignments(lines, t.Variable)
		if len(as) == 0 {
			// Every assignment there is at run time was appended by an
			// earlier change of the plan, in nettune's form VAR="...".
			p := t.Variable + `="`
			script, ok := relativeEdit(parseShellLine(""), p, `"`, names, args)
			if !ok || !(st.content == "" || strings.HasSuffix(st.content, "\n")) {
				return guardedWrite(path, st.content, next)
			}
			add := printfLines([]string{addedMarker(mod), fmt.Sprintf("%s=\"%s\"", t.Variable, strings.Join(args, " "))}) + " >> " + qp
			return fmt.Sprintf("if grep -q %s %s; then %s; else %s; fi", host.ShellQuote("^"+p), qp, sedCommand("/^"+escapeERE(p)+"/", script, path), add)
		}
		a := as[len(as)-1]
		line := lines[a.index]
		emptied := len(args) == 0 && a.index > 0 && lines[a.index-1] == addedMarker(mod)
		if a.quote == 0 || emptied {
			return guardedWrite(path, st.content, next)
		}
		script, ok := relativeEdit(parseShellLine(a.inner), line[:a.start], line[a.end:], names, args)
		if !ok {
			return guardedWrite(path, st.content, next)
		}
		return sedCommand(fmt.Sprint(a.index+1), script, path)
	}
	return writeCommand(path, next)
}

// relativeEdit returns a sed -E script for one line "prefix inner suffix"
// (prefix and suffix taken literally) that replaces the arguments named in
// names by args exactly as Line.Replace does, on the line as it is when
// the script runs: other words may have been added, removed or replaced
// meanwhile, as long as none of them has one of these names. It returns
// false for lines it cannot follow exactly.
func relativeEdit(l Line, prefix, suffix string, names, args []string) (string, bool) {
	inner := l.String()
	if strings.ContainsAny(inner, "\"\n") {
		return "", false // kernel quoting: words may hold whitespace
	}
	for _, a := range args {
		if a == "" || a == "--" || strings.ContainsAny(a, " \t\n\r\v\f\"") {
			return "", false
		}
	}
	owned := l.Owned(names)
	words := l.Words()
	count, dashes := 0, 0
	for _, w := range words {
		if slices.Contains(owned, w) {
			count++
		}
		if w == "--" {
			dashes++
		}
	}
	// Every word that reads like an owned one must be owned (not after
	// "--"), so that the script's anchors can only land on the slots.
	if count != len(owned) || (len(owned) == 0 && dashes > 1) {
		return "", false
	}
	d, ok := delimiter(prefix + suffix + strings.Join(owned, "") + strings.Join(args, ""))
	if !ok {
		return "", false
	}
	sub := func(re, repl string) string { return "s" + d + re + d + repl + d }
	p, s := escapeERE(prefix), escapeERE(suffix)
	ps, ss := escapeRepl(prefix), escapeRepl(suffix)
	joined := escapeRepl(strings.Join(args, " "))
	const (
		sp   = "[[:space:]]"
		word = "[^[:space:]]"
	)
	n, m := len(args), len(owned)
	switch {
	case m == 0 && n == 0:
		return "", false
	case m == 0 && dashes == 1:
		// Before the "--" that ends the kernel's arguments.
		return sub("^"+p+"(.*"+sp+")?--("+sp+".*)?"+s+"$", ps+`\1`+joined+` --\2`+ss), true
	case m == 0:
		// After the last word, or alone in an empty value.
		return sub("^"+p+"(.*"+word+")("+sp+"*)"+s+"$", ps+`\1 `+joined+`\2`+ss) + ";" +
			sub("^"+p+"("+sp+"*)"+s+"$", ps+joined+`\1`+ss), true
	}
	if m > 8 {
		return "", false // sed has nine groups; the edit needs m+1
	}
	// One expression over the owned words in line order and what lies
	// between them. The prefix and the suffix are literals, written back
	// as they are.
	var re strings.Builder
	g := 0
	group := func(pat string, opt bool) string {
		g++
		re.WriteString("(" + pat + ")")
		if opt {
			re.WriteString("?")
		}
		return fmt.Sprintf(`\%d`, g)
	}
	lit := func(w string) { re.WriteString(escapeERE(w)) }
	pre, suf := escapeRepl(prefix), escapeRepl(suffix)
	done := func(out string) string {
		return sub("^"+escapeERE(prefix)+re.String()+escapeERE(suffix)+"$", pre+out+suf)
	}
	if n > 0 {
		out := group(".*"+sp, true)
		lit(owned[0])
		out += escapeRepl(args[0])
		for k := 1; k < m; k++ {
			if k >= n {
				// A surplus slot goes with the whitespace before it.
				out += group(sp+".*"+word, true)
				re.WriteString(sp + "+")
			} else {
				out += group(sp+"|"+sp+".*"+sp, false) + escapeRepl(args[k])
			}
			lit(owned[k])
		}
		if n > m {
			out += " " + escapeRepl(strings.Join(args[m:], " "))
		}
		out += group(sp+".*", true)
		return done(out), true
	}
	// No arguments left: every slot goes, the later ones with the
	// whitespace before them. The first takes the whitespace before it
	// when a word precedes it, else the whitespace after it when a word
	// follows, else none.
	rest := func() string {
		var out string
		for k := 1; k < m; k++ {
			out += group(sp+".*"+word, true)
			re.WriteString(sp + "+")
			lit(owned[k])
		}
		return out + group(sp+".*", true)
	}
	out := group(".*"+word, false)
	re.WriteString(sp + "+")
	lit(owned[0])
	script := done(out + rest())
	re.Reset()
	g = 0
	out = group(sp+"*", false)
	lit(owned[0])
	// Newlines mark the rest of the line, whose leading whitespace goes
	// when it has a word.
	script += ";" + done(out+`\n`+rest()+`\n`)
	script += ";" + sub(`\n`+sp+"*("+word+`.*)\n`, `\1`) + ";" + sub(`\n(.*)\n`, `\1`)
	return script, true
}

// sedCommand runs a sed -E script on the lines addr selects, in place.
func sedCommand(addr, script, path string) string {
	return "sed -i -E " + host.ShellQuote(addr+"{"+script+"}") + " " + host.ShellQuote(path)
}

// delimiter picks a character for sed's s command that occurs in none of
// the texts of the script.
func delimiter(text string) (string, bool) {
	for _, c := range "#%@~!,_" {
		if !strings.ContainsRune(text, c) {
			return string(c), true
		}
	}
	return "", false
}

// escapeERE makes s a literal in a POSIX extended regular expression.
func escapeERE(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`\^$.|?*+()[]{}`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// escapeRepl makes s literal in the replacement of sed's s command.
func escapeRepl(s string) string {
	return strings.NewReplacer(`\`, `\\`, `&`, `\&`).Replace(s)
}

// writeCommand writes content to path byte for byte.
func writeCommand(path, content string) string {
	qp := host.ShellQuote(path)
	if content == "" {
		return ": > " + qp
	}
	body, last, whole := strings.TrimSuffix(content, "\n"), "", strings.HasSuffix(content, "\n")
	lines := splitLines(body)
	if !whole {
		lines, last = lines[:len(lines)-1], lines[len(lines)-1]
	}
	switch {
	case len(lines) == 0:
		return "printf '%s' " + host.ShellQuote(last) + " > " + qp
	case whole:
		return printfLines(lines) + " > " + qp
	}
	return "{ " + printfLines(lines) + "; printf '%s' " + host.ShellQuote(last) + "; } > " + qp
}

// printfLines prints each string as one line.
func printfLines(lines []string) string {
	q := make([]string, len(lines))
	for i, l := range lines {
		q[i] = host.ShellQuote(l)
	}
	return "printf '%s\\n' " + strings.Join(q, " ")
}

// guardedWrite writes the whole new content, but only over the content
// the plan was computed from.
func guardedWrite(path, old, next string) string {
	sum := fmt.Sprintf("%x  %s", sha256.Sum256([]byte(old)), path)
	return fmt.Sprintf("if echo %s | sha256sum -c --status; then %s; else %s; fi", host.ShellQuote(sum), writeCommand(path, next), changedSincePlan(path))
}

// changedSincePlan fails a command whose file is not what the plan saw.
func changedSincePlan(path string) string {
	return fmt.Sprintf("echo %s >&2; false", host.ShellQuote("nettune: "+path+" changed since the plan (an earlier command of the plan edits it in a way this one cannot follow); run 'nettune apply' instead"))
}
