package forwarder

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nettune/nettune/pkg/dataplane"
)

// Main is the nettune-forwarder program, which nettune run execs: it reads
// a dataplane.Config as JSON from stdin, starts the forwarder and writes
// dataplane.Message lines to stdout (EAL arguments, started, stats every
// -interval, final) until SIGINT or SIGTERM, then stops it. Errors go to
// stderr; the exit code is 0, or 1 after an error, 2 for bad usage.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(dataplane.ForwarderProgram, flag.ContinueOnError)
	fs.SetOutput(stderr)
	interval := fs.Duration("interval", time.Second, "how often to write the counters")
	runDir := fs.String("run-dir", dataplane.RunDir, "publish the counters in `DIR`/forwarder-<eal file prefix>.json (empty: do not)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [-interval D] [-run-dir DIR] < config.json\n\nnettune's DPDK forwarder, run by 'nettune run PROFILE': a dataplane.Config as JSON on stdin,\none JSON message per line on stdout; SIGINT or SIGTERM stops it.\n", dataplane.ForwarderProgram)
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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
		// readers stop seeing them even if this start fails.
		dataplane.SweepInstances(runDir, "/proc")
		var err error
		if pub, err = dataplane.NewPublisher(runDir, "/proc", cfg.FilePrefix); err != nil {
			return err
		}
		defer pub.Remove()
	}
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
	publish(fwd.Stats())
	send(dataplane.Message{Started: true, Instance: cfg.FilePrefix, Warnings: fwd.Warnings()})
	tick := time.NewTicker(interval)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			st := fwd.Stats()
			publish(st)
			send(dataplane.Message{Stats: &st})
		}
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
