package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Runner runs an external program. Arguments are a slice, never a shell
// string. The error of a failed run carries the program's stderr.
type Runner interface {
	Run(ctx context.Context, name string, args ...string) (stdout []byte, err error)
}

// ErrOffline is returned when a program would have to run against a root
// that is not the live host.
var ErrOffline = errors.New("not run: the root is not the live host")

// OSRunner runs programs on the live host.
type OSRunner struct{}

// Run implements Runner.
func (OSRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return stdout.Bytes(), fmt.Errorf("run %s: %w: %s", CommandLine(name, args...), err, msg)
		}
		return stdout.Bytes(), fmt.Errorf("run %s: %w", CommandLine(name, args...), err)
	}
	return stdout.Bytes(), nil
}

// OfflineRunner refuses to run anything: with a root other than "/" nettune
// must not touch the live host.
type OfflineRunner struct{ Root string }

// Run implements Runner.
func (o OfflineRunner) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	return nil, fmt.Errorf("run %s under root %s: %w", CommandLine(name, args...), o.Root, ErrOffline)
}

// CommandLine renders a command for humans, quoting arguments that need it.
func CommandLine(name string, args ...string) string {
	parts := make([]string, 0, len(args)+1)
	parts = append(parts, ShellQuote(name))
	for _, a := range args {
		parts = append(parts, ShellQuote(a))
	}
	return strings.Join(parts, " ")
}

// ShellQuote quotes s for a POSIX shell when it contains anything but plain
// characters.
func ShellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:=,@%+", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
