// Package profile reads nettune profiles: versioned YAML documents that
// describe the desired state of a host. Decoding is strict (unknown keys,
// wrong types, bad enums, CPU lists and sizes are errors with file:line:col
// and the field path), profiles can extend a file or a shipped profile, and
// static validation runs before any module looks at the host.
package profile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/nettune/nettune/profiles"
	"gopkg.in/yaml.v3"
)

// ErrInvalid is matched (errors.Is) by every profile error.
var ErrInvalid = errors.New("invalid profile")

// maxExtends bounds the extends chain.
const maxExtends = 8

// MaxFileSize bounds a profile file (each file of an extends chain): the
// largest shipped profile is a few kilobytes, and decoding is not meant
// for megabytes of YAML.
const MaxFileSize = 1 << 20

// EtcDir holds the operator's own profiles, looked up by name before the
// shipped ones. It is a path of the machine nettune runs on: profiles are
// read the same whatever --root says (a profile describes the desired
// state, the root only where the host is).
const EtcDir = "/etc/nettune/profiles"

// Load reads a profile from a file path, or, when ref names no file and has
// no path separator, from EtcDir/<ref>.yaml, else from the profiles shipped
// with nettune. An extends by name is resolved the same way.
func Load(ref string) (*Profile, error) {
	return loadFrom(ref, EtcDir)
}

// loadFrom is Load with the operator's profile directory as a parameter
// (tests pass one under t.TempDir()).
func loadFrom(ref, etcDir string) (*Profile, error) {
	l := &loader{files: map[*yaml.Node]string{}, etcDir: etcDir}
	node, src, err := l.load(ref, "", nil)
	if err != nil {
		return nil, err
	}
	p := &Profile{Source: src}
	d := &decoder{files: l.files, file: src}
	d.decode(node, reflect.ValueOf(p).Elem(), "", "")
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	if errs := p.validate(l.files, node, src); len(errs) > 0 {
		return nil, errs
	}
	p.Positions = positions(l.files, node)
	return p, nil
}

// Parse reads a profile from data; name is used in error positions.
// extends is resolved relative to the current directory.
func Parse(name string, data []byte) (*Profile, error) {
	if len(data) > MaxFileSize {
		return nil, tooLarge(name)
	}
	l := &loader{files: map[*yaml.Node]string{}, etcDir: EtcDir}
	node, err := l.parse(name, data)
	if err != nil {
		return nil, err
	}
	node, err = l.extend(node, name, ".", []string{name})
	if err != nil {
		return nil, err
	}
	p := &Profile{Source: name}
	d := &decoder{files: l.files, file: name}
	d.decode(node, reflect.ValueOf(p).Elem(), "", "")
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	if errs := p.validate(l.files, node, name); len(errs) > 0 {
		return nil, errs
	}
	p.Positions = positions(l.files, node)
	return p, nil
}

// Shipped lists the names of the profiles shipped with nettune.
func Shipped() []string {
	entries, _ := fs.ReadDir(profiles.FS, ".")
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, n)
		}
	}
	return names
}

type loader struct {
	files map[*yaml.Node]string
	// etcDir is where profiles are looked up by name before the shipped
	// ones ("" skips it).
	etcDir string
}

// load reads ref (relative to dir) and resolves its extends chain.
func (l *loader) load(ref, dir string, chain []string) (*yaml.Node, string, error) {
	data, src, baseDir, err := readRef(ref, dir, l.etcDir, chain)
	if err != nil {
		return nil, "", err
	}
	for _, c := range chain {
		if c == src {
			return nil, "", &Error{File: src, Msg: fmt.Sprintf("extends cycle: %s -> %s", strings.Join(chain, " -> "), src)}
		}
	}
	if len(chain) >= maxExtends {
		return nil, "", &Error{File: src, Msg: fmt.Sprintf("extends chain longer than %d", maxExtends)}
	}
	node, err := l.parse(src, data)
	if err != nil {
		return nil, "", err
	}
	node, err = l.extend(node, src, baseDir, append(chain, src))
	return node, src, err
}

// readRef finds a profile: an existing file, else a name in etcDir, else
// a shipped profile name. A profile in etcDir that extends its own name
// (/etc/nettune/profiles/safe-default.yaml saying extends: safe-default)
// extends the shipped one: a name already in the chain is not looked up in
// etcDir again.
func readRef(ref, dir, etcDir string, chain []string) (data []byte, src, baseDir string, err error) {
	p := ref
	if dir != "" && !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	data, err = readFile(p)
	if err == nil {
		return data, p, filepath.Dir(p), nil
	}
	if pe := (*Error)(nil); errors.As(err, &pe) {
		return nil, "", "", err
	}
	if !errors.Is(err, fs.ErrNotExist) || strings.ContainsRune(ref, '/') {
		return nil, "", "", fmt.Errorf("read profile %s: %w", p, err)
	}
	name := strings.TrimSuffix(ref, ".yaml")
	if p := filepath.Join(etcDir, name+".yaml"); etcDir != "" && name != "." && name != ".." && !slices.Contains(chain, p) {
		data, err = readFile(p)
		if err == nil {
			return data, p, etcDir, nil
		}
		if pe := (*Error)(nil); errors.As(err, &pe) {
			return nil, "", "", err
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, "", "", fmt.Errorf("read profile %s: %w", p, err)
		}
	}
	data, serr := fs.ReadFile(profiles.FS, name+".yaml")
	if serr != nil {
		where := "no shipped profile of that name (shipped: " + strings.Join(Shipped(), ", ") + ")"
		if etcDir != "" {
			where = "not in " + etcDir + ", and " + where
		}
		return nil, "", "", fmt.Errorf("profile %q: no such file, %s", ref, where)
	}
	return data, "shipped:" + name, "", nil
}

// readFile reads a profile file, refusing one larger than MaxFileSize
// before reading more than that (a FIFO or /dev/zero included).
func readFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > MaxFileSize {
		return nil, tooLarge(p)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, tooLarge(p)
	}
	return data, nil
}

func tooLarge(p string) error {
	return &Error{File: p, Msg: fmt.Sprintf("the profile is larger than %d bytes (1 MiB), the limit for a profile file; split it with extends or remove what it does not need", MaxFileSize)}
}

// parse reads exactly one YAML document and records which file each node
// came from.
func (l *loader) parse(src string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: src, Msg: "empty profile"}
		}
		return nil, yamlError(src, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: src, Line: extra.Line, Col: extra.Column, Msg: "a second YAML document; a profile is exactly one document"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(src, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, &Error{File: src, Line: root.Line, Col: root.Column, Msg: "a profile must be a mapping with apiVersion, kind, metadata and spec"}
	}
	var mark func(n *yaml.Node)
	mark = func(n *yaml.Node) {
		l.files[n] = src
		for _, c := range n.Content {
			mark(c)
		}
	}
	mark(root)
	return root, nil
}

// yamlError turns a yaml.v3 syntax error ("yaml: line 3: ...") into a
// positioned Error.
func yamlError(src string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			fmt.Sscanf(n, "%d", &line)
			msg = after
		}
	}
	return &Error{File: src, Line: line, Col: 1, Msg: "YAML syntax: " + msg}
}

// extend applies the extends key of node, if any.
func (l *loader) extend(node *yaml.Node, src, dir string, chain []string) (*yaml.Node, error) {
	var ref *yaml.Node
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == "extends" {
			ref = node.Content[i+1]
		}
	}
	if ref == nil || isNull(ref) {
		return node, nil
	}
	if ref.Kind != yaml.ScalarNode || ref.Value == "" {
		return nil, &Error{File: src, Line: ref.Line, Col: ref.Column, Path: "extends", Msg: "expected a path or a shipped profile name"}
	}
	base, _, err := l.load(ref.Value, dir, chain)
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) || errors.As(err, new(ErrorList)) {
			return nil, err
		}
		return nil, &Error{File: src, Line: ref.Line, Col: ref.Column, Path: "extends", Msg: err.Error()}
	}
	merged := l.merge(base, node)
	// The result no longer extends anything.
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: merged.Line, Column: merged.Column}
	for i := 0; i+1 < len(merged.Content); i += 2 {
		if merged.Content[i].Value != "extends" {
			out.Content = append(out.Content, merged.Content[i], merged.Content[i+1])
		}
	}
	l.files[out] = src
	return out, nil
}

// merge overlays child on base: mappings merge key by key, a null value in
// the child removes the key, anything else in the child replaces.
func (l *loader) merge(base, child *yaml.Node) *yaml.Node {
	if base.Kind != yaml.MappingNode || child.Kind != yaml.MappingNode {
		return child
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: child.Tag, Line: child.Line, Column: child.Column, Style: child.Style}
	l.files[out] = l.files[child]
	childVals := map[string]*yaml.Node{}
	for i := 0; i+1 < len(child.Content); i += 2 {
		childVals[child.Content[i].Value] = child.Content[i+1]
	}
	done := map[string]bool{}
	for i := 0; i+1 < len(base.Content); i += 2 {
		k, v := base.Content[i], base.Content[i+1]
		if cv, ok := childVals[k.Value]; ok {
			done[k.Value] = true
			if isNull(cv) {
				continue
			}
			out.Content = append(out.Content, k, l.merge(v, cv))
			continue
		}
		out.Content = append(out.Content, k, v)
	}
	for i := 0; i+1 < len(child.Content); i += 2 {
		k, v := child.Content[i], child.Content[i+1]
		if done[k.Value] || (isNull(v) && k.Value != "extends") {
			continue
		}
		out.Content = append(out.Content, k, v)
	}
	return out
}

// Flatten reads a profile, resolves its extends chain and returns one
// self-contained YAML document equivalent to it (what `nettune install`
// records, so that the boot-time apply does not depend on other files).
func Flatten(ref string) ([]byte, error) {
	return flattenFrom(ref, EtcDir)
}

func flattenFrom(ref, etcDir string) ([]byte, error) {
	if _, err := loadFrom(ref, etcDir); err != nil {
		return nil, err
	}
	l := &loader{files: map[*yaml.Node]string{}, etcDir: etcDir}
	node, _, err := l.load(ref, "", nil)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(node); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
