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
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [-interval D] < config.json\n\nnettune's DPDK forwarder, run by 'nettune run PROFILE': a dataplane.Config as JSON on stdin,\none JSON message per line on stdout; SIGINT or SIGTERM stops it.\n", dataplane.ForwarderProgram)
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
	if err := serve(ctx, *interval, stdin, stdout); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", dataplane.ForwarderProgram, err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, interval time.Duration, stdin io.Reader, stdout io.Writer) error {
	var cfg dataplane.Config
	if err := json.NewDecoder(stdin).Decode(&cfg); err != nil {
		return fmt.Errorf("read the configuration from stdin: %w", err)
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
		if eal, err := dataplane.EALArgs(withPrefix(cfg)); err == nil {
			send(dataplane.Message{EALArgs: eal})
		}
	}
	fwd, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	send(dataplane.Message{Started: true, Warnings: fwd.Warnings()})
	tick := time.NewTicker(interval)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			st := fwd.Stats()
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
