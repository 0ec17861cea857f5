package sysctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// Module implements module.Module for spec.sysctl.
type Module struct{}

// Name implements module.Module.
func (Module) Name() string { return "sysctl" }

// Configured implements module.Module.
func (Module) Configured(s *profile.Spec) bool { return len(s.Sysctl) > 0 }

const (
	attrValue   = "value"
	attrContent = "content"
)

// Plan implements module.Module.
func (m Module) Plan(_ context.Context, env *module.Env, spec *profile.Spec) (*module.Result, error) {
	r := env.Root
	res := &module.Result{}
	keys := make([]string, 0, len(spec.Sysctl))
	for k := range spec.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	persist := map[string]string{}
	var nsOnly []string
	seen := map[string]string{}
	for _, k := range keys {
		want := Normalize(string(spec.Sysctl[k]))
		problem := func(format string, args ...any) {
			res.Problems = append(res.Problems, plan.Problem{Severity: plan.Error, Module: m.Name(), Object: k, Message: fmt.Sprintf(format, args...)})
		}
		if want == "" {
			problem("empty value")
			continue
		}
		inNS := env.NetNS != nil && !env.NetNS.Initial
		n, err := Resolve(r, k)
		if err != nil {
			if inNS && perNamespace(k) {
				problem("%v: nettune runs in %s, where host-wide network parameters do not exist; they are global to the host (set them from the initial namespace: %snettune apply)", err, env.NetNS, (&host.NetNS{Initial: true}).EnterCommand())
				continue
			}
			problem("%v", err)
			continue
		}
		name := n.String()
		if other, dup := seen[name]; dup {
			problem("same parameter as %s", other)
			continue
		}
		seen[name] = k
		st, err := os.Stat(n.Path)
		if err != nil {
			problem("%v", err)
			continue
		}
		if st.Mode().Perm()&0o222 == 0 {
			if inNS {
				problem("%s is read-only in %s: the kernel lets only the initial namespace change it (it is global to the host); set it from there", name, env.NetNS)
				continue
			}
			problem("%s is read-only", name)
			continue
		}
		raw, err := r.ReadString(n.Path)
		if err != nil {
			problem("read %s: %v", r.HostPath(n.Path), err)
			continue
		}
		// Numbers in the kernel's form, checked against its type.
		if want, err = Value(n.Elements, want, raw); err != nil {
			problem("%v", err)
			continue
		}
		item := plan.Item{Change: plan.Change{
			Module: m.Name(), Object: name, Attribute: attrValue, Action: plan.Set,
			Before: raw, After: want, When: plan.Live, Path: r.HostPath(n.Path),
			Command: valueCommand(r, name, n.Path, want),
		}, Status: plan.OK}
		if Normalize(raw) != want {
			item.Status = plan.Drift
			item.Reason = "profile sets " + k
		}
		res.Items = append(res.Items, item)
		if inNS && perNamespace(name) {
			nsOnly = append(nsOnly, name)
			continue
		}
		persist[name] = want
	}
	if len(nsOnly) > 0 {
		res.Problems = append(res.Problems, plan.Problem{Severity: plan.Warning, Module: m.Name(), Object: ConfFile,
			Message: fmt.Sprintf("nettune runs in %s: %s belong to this namespace, so they are set live but not written to %s, which the host applies to its initial namespace at boot", env.NetNS, strings.Join(nsOnly, ", "), ConfFile),
			Remedy:  "set them at boot from what creates the namespace (e.g. 'ip netns exec NAME sysctl -w' in its unit)"})
	}
	sort.SliceStable(res.Items, func(i, j int) bool { return res.Items[i].Object < res.Items[j].Object })
	if len(persist) == 0 {
		return res, nil
	}

	// The persistence file.
	after := render(profileName(env), persist)
	conf := r.Path(ConfFile)
	item := plan.Item{Change: plan.Change{
		Module: m.Name(), Object: ConfFile, Attribute: attrContent, After: after,
		When: plan.Live, Path: ConfFile, Reason: "persist the sysctls for boot and sysctl --system",
		Command: writeCommand(r, ConfFile, after),
	}, Status: plan.OK}
	before, err := os.ReadFile(conf)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		item.Action = plan.Create
		item.Status = plan.Drift
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", ConfFile, err)
	default:
		item.Action = plan.Set
		item.Before = string(before)
		if !bytes.HasPrefix(before, []byte(Marker)) {
			res.Problems = append(res.Problems, plan.Problem{
				Severity: plan.Error, Module: m.Name(), Object: ConfFile,
				Message: "exists and is not managed by nettune; refusing to overwrite it",
				Remedy:  "move its settings elsewhere or remove it",
			})
			return res, nil
		}
		if string(before) != after {
			item.Status = plan.Drift
		}
	}
	res.Items = append(res.Items, item)
	res.Problems = append(res.Problems, Overrides(r, persist)...)
	return res, nil
}

// profileName is recorded in the persistence file's header.
func profileName(env *module.Env) string {
	if env.Profile != "" {
		return env.Profile
	}
	return "unnamed"
}

// Overrides warns about other configuration files that set the same keys
// to other values.
func Overrides(r *host.Root, want map[string]string) []plan.Problem {
	var out []plan.Problem
	ours := filepath.Base(ConfFile)
	last := map[string]Setting{}
	var before []Setting
	for _, f := range bootOrder(r.Path) {
		if f == ConfFile {
			continue
		}
		data, err := os.ReadFile(r.Path(f))
		if err != nil {
			continue
		}
		settings, err := ParseConf(bytes.NewReader(data), f)
		if err != nil {
			continue
		}
		for _, s := range settings {
			if _, ok := want[s.Key]; !ok {
				continue
			}
			if f != "/etc/sysctl.conf" && filepath.Base(f) < ours {
				before = append(before, s)
			} else {
				last[s.Key] = s
			}
		}
	}
	keys := make([]string, 0, len(last))
	for k := range last {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := last[k]
		if s.Value == want[k] {
			continue
		}
		out = append(out, plan.Problem{
			Severity: plan.Warning, Module: "sysctl", Object: k,
			Message: fmt.Sprintf("%s:%d sets %s = %s and is read after %s, so it wins at boot and on 'sysctl --system'", s.File, s.Line, k, s.Value, ConfFile),
			Remedy:  fmt.Sprintf("remove or change that line to %s", want[k]),
		})
	}
	for _, s := range before {
		if s.Value == want[s.Key] {
			continue
		}
		out = append(out, plan.Problem{
			Severity: plan.Warning, Module: "sysctl", Object: s.Key,
			Message: fmt.Sprintf("%s:%d sets %s = %s; %s is read later and wins, but the files disagree", s.File, s.Line, s.Key, s.Value, ConfFile),
			Remedy:  "remove the stale line",
		})
	}
	return out
}

// valueCommand is the shell equivalent of setting one parameter. sysctl(8)
// only reaches the running host, so with another root the command writes
// the file under the root, as apply does.
func valueCommand(r *host.Root, name, path, value string) string {
	if r.Live() {
		return "sysctl -w " + host.ShellQuote(name+"="+value)
	}
	return "printf '%s\\n' " + host.ShellQuote(value) + " > " + host.ShellQuote(path)
}

// writeCommand is the shell equivalent of writing a file under the root,
// byte for byte, creating its directory as apply does.
func writeCommand(r *host.Root, hostPath, content string) string {
	path := r.Path(hostPath)
	lines := strings.Split(strings.TrimSuffix(content, "\n"), "\n")
	quoted := make([]string, len(lines))
	for i, l := range lines {
		quoted[i] = host.ShellQuote(l)
	}
	cmd := "printf '%s\\n' " + strings.Join(quoted, " ") + " > " + host.ShellQuote(path)
	if _, err := os.Stat(filepath.Dir(path)); err != nil {
		cmd = "mkdir -p " + host.ShellQuote(filepath.Dir(path)) + " && " + cmd
	}
	return cmd
}

// Apply implements module.Module.
func (m Module) Apply(_ context.Context, env *module.Env, c plan.Change) error {
	return m.write(env.Root, c.Attribute, c.Path, c.Action, c.After)
}

// Revert implements module.Module.
func (m Module) Revert(_ context.Context, env *module.Env, c plan.Change) error {
	inv := c.Inverse()
	return m.write(env.Root, inv.Attribute, inv.Path, inv.Action, inv.After)
}

func (Module) write(r *host.Root, attr, hostPath string, action plan.Action, value string) error {
	p := r.Path(hostPath)
	switch attr {
	case attrValue:
		if err := r.W.WriteKernel(p, value); err != nil {
			return err
		}
		got, err := r.ReadString(p)
		if err != nil {
			return fmt.Errorf("read back %s: %w", hostPath, err)
		}
		if Normalize(got) != Normalize(value) {
			return fmt.Errorf("%s: wrote %q, kernel reads back %q: %w", hostPath, value, got, module.ErrVerify)
		}
		return nil
	case attrContent:
		if action == plan.Delete {
			return r.W.Remove(p)
		}
		if err := r.W.WriteFile(p, []byte(value), 0o644); err != nil {
			return err
		}
		got, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read back %s: %w", hostPath, err)
		}
		if string(got) != value {
			return fmt.Errorf("%s: content differs after write: %w", hostPath, module.ErrVerify)
		}
		return nil
	}
	return fmt.Errorf("unknown sysctl attribute %q in journal", attr)
}
