package forwarder

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/nettune/nettune/pkg/dataplane"
)

// Main is the nettune-forwarder program, which nettune run execs: it reads
// a dataplane.Config as JSON from stdin, starts the forwarder and writes
// dataplane.Message lines to stdout (EAL arguments, started, stats every
// -interval, final) until SIGINT, SIGTERM or SIGHUP, then stops it. Errors go to
// stderr; the exit code is 0, or 1 after an error, 2 for bad usage.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(dataplane.ForwarderProgram, flag.ContinueOnError)
	fs.SetOutput(stderr)
	interval := fs.Duration("interval", time.Second, "how often to write the counters")
	runDir := fs.String("run-dir", dataplane.RunDir, "publish the counters in `DIR`/forwarder-<eal file prefix>.json (empty: do not)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [-interval D] [-run-dir DIR] < config.json\n\nnettune's DPDK forwarder, run by 'nettune run PROFILE': a dataplane.Config as JSON on stdin,\none JSON message per line on stdout; SIGINT, SIGTERM or SIGHUP stops it.\n", dataplane.ForwarderProgram)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 || *interval <= 0 {
		if err == nil {
			fs.Usage()
		}
		return 2
	}
	// Caught from the start: a signal during start-up stops the forwarder
	// as soon as it runs.
	// SIGHUP too: the session of the shell that started it dropping.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// A closed stdout (nettune gone) is a write error that stops the
	// forwarder cleanly, not a SIGPIPE that kills it.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	if err := serve(ctx, *interval, *runDir, stdin, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", dataplane.ForwarderProgram, err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, interval time.Duration, runDir string, stdin io.Reader, stdout, stderr io.Writer) error {
	var cfg dataplane.Config
	if err := json.NewDecoder(stdin).Decode(&cfg); err != nil {
		return fmt.Errorf("read the configuration from stdin: %w", err)
	}
	cfg = withPrefix(cfg)
	var pub *dataplane.Publisher
	if runDir != "" {
		// Files of instances that are gone (kill -9) first, so that
		// readers stop seeing them even if this start fails; then what
		// they left on the interfaces this one uses.
		gone := dataplane.SweepInstances(runDir, "/proc")
		for _, n := range dataplane.CleanLeftovers(cfg, gone, dataplane.ReadInstances(runDir)) {
			fmt.Fprintf(stderr, "%s: %s\n", dataplane.ForwarderProgram, n)
		}
		var err error
		if pub, err = dataplane.NewPublisher(runDir, "/proc", cfg.FilePrefix); err != nil {
			return err
		}
		defer pub.Remove()
	}
	// The PMDs turn promiscuous mode on on the kernel interfaces behind
	// af_packet and af_xdp ports and leave it on: turn it off again on
	// those where it was off.
	ifaces, xdpIfaces := dataplane.KernelIfaces(cfg)
	var wasOff []string
	for name, on := range dataplane.Promiscuous(ifaces) {
		if !on {
			wasOff = append(wasOff, name)
		}
	}
	sort.Strings(wasOff)
	if pub != nil {
		pub.SetInterfaces(xdpIfaces, wasOff)
	}
	defer func() {
		if err := dataplane.PromiscOff(wasOff); err != nil {
			fmt.Fprintf(stderr, "%s: warning: %v\n", dataplane.ForwarderProgram, err)
		}
	}()
	publish := func(st dataplane.Stats) {
		if pub != nil {
			if err := pub.Publish(st); err != nil {
				fmt.Fprintf(stderr, "%s: warning: %v\n", dataplane.ForwarderProgram, err)
			}
		}
	}
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	send := func(m dataplane.Message) error {
		if err := enc.Encode(m); err != nil {
			return err
		}
		return out.Flush()
	}
	if len(cfg.MainCPUs) > 0 {
		// The arguments Start passes (Start fills an empty MainCPUs
		// itself): shown before the EAL starts, so a failing start shows
		// them too.
		if eal, err := dataplane.EALArgs(cfg); err == nil {
			send(dataplane.Message{EALArgs: eal})
		}
	}
	fwd, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	st0 := fwd.Stats()
	publish(st0)
	err = send(dataplane.Message{Started: true, Instance: cfg.FilePrefix, Warnings: fwd.Warnings(), Stats: &st0})
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for err == nil {
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-tick.C:
			st := fwd.Stats()
			publish(st)
			err = send(dataplane.Message{Stats: &st})
		}
	}
	if !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "%s: stopping: write to stdout: %v\n", dataplane.ForwarderProgram, err)
	}
	final, err := fwd.Stop()
	send(dataplane.Message{Final: true, Stats: &final})
	if err != nil {
		return fmt.Errorf("stop forwarder: %w", err)
	}
	return nil
}

// withPrefix fills the EAL file prefix as Start does.
func withPrefix(cfg dataplane.Config) dataplane.Config {
	if cfg.FilePrefix == "" {
		cfg.FilePrefix = fmt.Sprintf("nettune-%d", os.Getpid())
	}
	return cfg
}
