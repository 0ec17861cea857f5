package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/dataplane"
	"github.com/nettune/nettune/pkg/host"
)

// selfPath is the running nettune binary, where FindForwarder looks first.
func selfPath() string {
	p, err := os.Executable()
	if err != nil {
		return ""
	}
	return p
}

// tailBuffer keeps the last bytes written to it (the forwarder's stderr,
// for the loader's "error while loading shared libraries").
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if n := len(t.buf); n > 8192 {
		t.buf = append([]byte(nil), t.buf[n-8192:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// superviseForwarder runs the forwarder program prog on cfg and supervises
// it: SIGINT and SIGTERM are passed on to it (SIGHUP as SIGTERM), --duration (counted from the
// moment its workers run) ends it with SIGTERM, its counters are published
// and shown as they arrive, and its exit code becomes nettune's.
// Every statsPeriod (0: never) it prints the counters and rates on stdout.
func (a *app) superviseForwarder(ctx context.Context, prog string, cfg dataplane.Config, duration time.Duration, metricsListen string, statsPeriod time.Duration, r *host.Root) error {
	in, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	pub := &statsPublisher{}
	if metricsListen != "" {
		ln, err := listenMetrics(metricsListen)
		if err != nil {
			return err
		}
		stop, err := serveForwarderMetrics(ln, pub.snapshot)
		if err != nil {
			return err
		}
		defer stop()
		fmt.Fprintf(a.io.ErrOut, "metrics on http://%s/metrics\n", ln.Addr())
	}
	sigs := make(chan os.Signal, 2)
	// SIGHUP (an SSH session dropping) stops the forwarder like SIGTERM.
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	var errTail tailBuffer
	child := exec.Command(prog, "-run-dir", r.Path(dataplane.RunDir))
	child.Stdin = bytes.NewReader(in)
	child.Stderr = io.MultiWriter(a.io.ErrOut, &errTail)
	// Its own process group: a terminal's ^C reaches nettune, which passes
	// it on once; if nettune dies, the forwarder is stopped.
	child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	stdout, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return fmt.Errorf("start %s: %w", prog, err)
	}
	msgs := make(chan dataplane.Message)
	readErr := make(chan error, 1)
	go func() {
		defer close(msgs)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			var m dataplane.Message
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				readErr <- fmt.Errorf("read %s output: %w", prog, err)
				io.Copy(io.Discard, stdout)
				return
			}
			msgs <- m
		}
		readErr <- sc.Err()
	}()

	live := a.io.OutTTY && a.printer.Format == output.Table && statsPeriod == 0
	var (
		eal      []string
		prev     dataplane.Stats
		printed  dataplane.Stats // the counters of the last periodic print
		final    *dataplane.Stats
		timer    <-chan time.Time
		done     = ctx.Done()
		stopSent bool
	)
	signalChild := func(s os.Signal) {
		if child.Process != nil {
			child.Process.Signal(s)
		}
	}
loop:
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGHUP {
				s = syscall.SIGTERM
			}
			signalChild(s)
			stopSent = true
		case <-done:
			// In-process callers (tests) cancel the context.
			done = nil
			if !stopSent {
				signalChild(syscall.SIGTERM)
				stopSent = true
			}
		case <-timer:
			timer = nil
			signalChild(syscall.SIGTERM)
			stopSent = true
		case m, ok := <-msgs:
			if !ok {
				break loop
			}
			switch {
			case m.EALArgs != nil:
				eal = m.EALArgs
				fmt.Fprintf(a.io.ErrOut, "EAL arguments: %s\n", strings.Join(eal, " "))
			case m.Started:
				if m.Instance != "" {
					fmt.Fprintf(a.io.ErrOut, "instance %s: counters in %s\n", m.Instance, dataplane.InstancePath(dataplane.RunDir, m.Instance))
					pub.setInstance(m.Instance)
				}
				for _, w := range m.Warnings {
					fmt.Fprintln(a.io.ErrOut, "warning: "+w)
				}
				if m.Stats != nil {
					pub.publish(*m.Stats)
					prev, printed = *m.Stats, *m.Stats
				}
				fmt.Fprintln(a.io.ErrOut, startedLine(m))
				if duration > 0 {
					timer = time.After(duration)
				}
			case m.Final:
				final = m.Stats
			case m.Stats != nil:
				pub.publish(*m.Stats)
				if live {
					fmt.Fprintf(a.io.ErrOut, "\r\x1b[K%s", rateLine(dataplane.Rates(prev, *m.Stats)))
				}
				// Messages come about once a second: print when a
				// period is (nearly) over.
				if statsPeriod > 0 && m.Stats.Elapsed-printed.Elapsed >= statsPeriod-statsPeriod/10 {
					if err := a.printPeriodStats(printed, *m.Stats); err != nil {
						a.log.Debug("print periodic statistics", "err", err)
					}
					printed = *m.Stats
				}
				prev = *m.Stats
			}
		}
	}
	if live && prev.Elapsed > 0 {
		fmt.Fprintln(a.io.ErrOut)
	}
	rerr := <-readErr
	werr := child.Wait()
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		if lib, pkg := dataplane.MissingLibrary(errTail.String()); lib != "" {
			return fmt.Errorf("%s needs DPDK's shared library %s, which this host does not have; install DPDK's libraries (Debian: apt-get install %s; the package %s depends on them)", prog, lib, pkg, dataplane.ForwarderPackage)
		}
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			fmt.Fprintf(a.io.ErrOut, "error: %s was killed by %v\n", prog, st.Signal())
			return exitError{128 + int(st.Signal())}
		}
		return exitError{ee.ExitCode()}
	}
	if werr != nil {
		return fmt.Errorf("wait for %s: %w", prog, werr)
	}
	if rerr != nil {
		return rerr
	}
	if final == nil {
		return fmt.Errorf("%s exited without its final counters", prog)
	}
	return a.printRunSummary(*final, eal, statsPeriod > 0)
}
