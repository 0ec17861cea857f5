// Package cli is nettune's command line: cobra commands, one file per verb,
// the global flags, the exit codes, and the plumbing that turns a command's
// result into output. Domain work happens in pkg/; this package only wires
// it to the terminal.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Exit codes.
const (
	// ExitOK: success; check or status found the host in sync (status:
	// or no profile installed).
	ExitOK = 0
	// ExitError: an error; nothing was changed unless the message says so.
	ExitError = 1
	// ExitDrift: check or status found drift, or plan --detailed-exitcode
	// has changes.
	ExitDrift = 2
	// ExitPendingReboot: check or status: in sync except settings that
	// wait for a reboot.
	ExitPendingReboot = 3
)

const exitCodesHelp = `Exit codes:
  0  success; check, status: the host matches the profile
  1  error (invalid profile, host refused a change, unknown command, ...);
     apply rolled back
  2  check, status: drift; plan --detailed-exitcode: changes pending
  3  check, status: in sync except settings that wait for a reboot`

// exitError carries a non-error exit status (drift, pending reboot).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// IO is the command's terminal.
type IO struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// InTTY and OutTTY say whether stdin/stdout are terminals.
	InTTY, OutTTY bool
	// Width is the terminal's width when OutTTY (0: unknown); tables are
	// cut to fit it.
	Width int
}

// globals are the persistent flags.
type globals struct {
	root     string
	output   string
	logLevel string
}

// app is shared by every command.
type app struct {
	io      IO
	g       globals
	log     *slog.Logger
	printer *output.Printer
	// process: the app is the nettune process (Main), not a test's
	// in-process Run; process-wide settings (tuneGC) are its to make.
	process bool
}

// Main runs nettune with the process's arguments and returns the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stdio := IO{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		InTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		OutTTY: term.IsTerminal(int(os.Stdout.Fd())),
	}
	if stdio.OutTTY {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
			stdio.Width = w
		}
	}
	if p := os.Getenv("NETTUNE_CPUPROFILE"); p != "" {
		// A developer's tool (docs/performance.md): where a command's CPU
		// time goes on a machine without a Go toolchain, e.g. the nested
		// guest.
		if f, err := os.Create(p); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
		}
	}
	return runApp(ctx, os.Args[1:], stdio, true)
}

// Run runs nettune with args and returns the exit code. Tests call it
// in-process.
func Run(ctx context.Context, args []string, stdio IO) int { return runApp(ctx, args, stdio, false) }

func runApp(ctx context.Context, args []string, stdio IO, process bool) int {
	a := &app{io: stdio, process: process}
	cmd := a.rootCommand()
	cmd.SetArgs(args)
	cmd.SetIn(stdio.In)
	cmd.SetOut(stdio.Out)
	cmd.SetErr(stdio.ErrOut)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(stdio.ErrOut, "error: "+err.Error())
	return ExitError
}

func (a *app) rootCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "nettune",
		Short: "Prepare a Linux host for high-performance and kernel-bypass packet processing",
		Long: `nettune tunes a Linux host for packet processing from one declarative YAML
profile: it plans, applies (journaled, verified, reversible), checks for drift
and reverts kernel settings.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if a.process {
				tuneGC(cmd)
			}
			if err := a.setup(); err != nil {
				return err
			}
			return a.checkOutput(cmd)
		},
	}
	f := cmd.PersistentFlags()
	f.StringVar(&a.g.root, "root", "/", "host root: /proc, /sys, /etc, /run and the state directory are read and written under it; with anything but / the live host is never touched")
	f.StringVarP(&a.g.output, "output", "o", "", "output format: table, json or yaml (default table)")
	f.StringVar(&a.g.logLevel, "log-level", "warn", "log level on stderr: debug, info, warn, error")
	cmd.SetHelpTemplate(cmd.HelpTemplate())
	cmd.AddCommand(
		a.validateCommand(),
		a.planCommand(),
		a.applyCommand(),
		a.checkCommand(),
		a.revertCommand(),
		a.snapshotCommand(),
		a.devicesCommand(), a.bindCommand(), a.unbindCommand(),
		a.irqsCommand(),
		a.topologyCommand(),
		a.exporterCommand(),
		a.agentCommand(),
		a.installCommand(),
		a.uninstallCommand(),
		a.profileCommand(),
		a.listCommand(),
		a.statusCommand(),
		a.showCommand(),
		a.runCommand(),
		a.versionCommand(),
		a.completionCommand(),
	)
	registerCompletions(cmd)
	cmd.Example = `  nettune list
  nettune plan kernel-throughput
  nettune apply --yes kernel-throughput
  nettune status
  nettune --root ./snapshot check -o json kernel-throughput`
	requireSubcommand(cmd)
	return cmd
}

// requireSubcommand makes every command that only groups others (nettune,
// nettune profile) refuse an unknown subcommand with exit status 1
// instead of printing its help and exiting 0; without arguments it prints
// its help.
func requireSubcommand(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		requireSubcommand(c)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if c.SuggestionsMinimumDistance <= 0 {
			c.SuggestionsMinimumDistance = 2
		}
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		var names []string
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, sub.Name())
			}
		}
		return fmt.Errorf("%s; valid commands: %s (see '%s --help')", msg, strings.Join(names, ", "), c.CommandPath())
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		return c.Help()
	}
}

// noStructuredOutput marks a command whose output is not a document (a
// script, a server): it refuses -o json and -o yaml.
const noStructuredOutput = "nettune/no-structured-output"

// checkOutput refuses -o json|yaml for the commands that cannot honour it.
func (a *app) checkOutput(cmd *cobra.Command) error {
	if a.printer.Format == output.Table {
		return nil
	}
	if why, ok := cmd.Annotations[noStructuredOutput]; ok {
		return fmt.Errorf("%s prints %s; -o %s is not supported (drop -o)", cmd.CommandPath(), why, a.printer.Format)
	}
	return nil
}

// hint is a nettune command line for the user to run next: it keeps
// --root when the root is not /.
func (a *app) hint(args string) string {
	if a.g.root != "" && a.g.root != "/" {
		return "nettune --root " + host.ShellQuote(a.g.root) + " " + args
	}
	return "nettune " + args
}

func (a *app) setup() error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(a.g.logLevel)); err != nil {
		return fmt.Errorf("invalid --log-level %q; valid choices: debug, info, warn, error", a.g.logLevel)
	}
	a.log = slog.New(slog.NewTextHandler(a.io.ErrOut, &slog.HandlerOptions{Level: lvl}))
	format := output.Table
	if a.g.output != "" {
		f, err := output.ParseFormat(a.g.output)
		if err != nil {
			return err
		}
		format = f
	}
	a.printer = &output.Printer{W: a.io.Out, ErrW: a.io.ErrOut, Format: format, Color: a.io.OutTTY && os.Getenv("NO_COLOR") == ""}
	if a.io.OutTTY {
		a.printer.Width = a.io.Width
	}
	return nil
}

// engine builds the engine over the --root host.
func (a *app) engine() (*engine.Engine, error) {
	r, err := host.New(a.g.root)
	if err != nil {
		return nil, err
	}
	if !r.Live() {
		a.log.Info("offline root: the live host is not touched", "root", r.Prefix)
	}
	return engine.New(&module.Env{Root: r, Log: a.log}, Version, Modules()), nil
}

// confirm asks a yes/no question on the terminal. Without a terminal it
// refuses: the caller must pass --yes.
func (a *app) confirm(question string) (bool, error) {
	if !a.io.InTTY {
		return false, errors.New("stdin is not a terminal: pass --yes to confirm")
	}
	fmt.Fprintf(a.io.ErrOut, "%s [y/N] ", question)
	var answer string
	fmt.Fscanln(a.io.In, &answer)
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes", nil
}
