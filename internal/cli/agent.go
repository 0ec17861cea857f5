package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/exporter"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
)

// rebootSentinel is the file that kured (and Debian's update-notifier)
// take as "this node needs a reboot", relative to the host root. /var/run
// is a symlink to /run on every current distribution, so it is written as
// /run/reboot-required and kured's /var/run/reboot-required sees it.
const rebootSentinel = "reboot-required"

type agentOptions struct {
	listen         string
	poll           time.Duration
	resync         time.Duration
	terminationLog string
}

func (a *app) agentCommand() *cobra.Command {
	o := agentOptions{}
	cmd := &cobra.Command{
		Use:   "agent PROFILE_FILE",
		Short: "Keep a node tuned as a Kubernetes DaemonSet pod: apply on start and on every change of the profile, serve metrics and readiness",
		Long: `Run as the entrypoint of nettune's DaemonSet pod (docs/kubernetes.md).

At start the agent refuses to run when another manager tunes the node: the
tuned daemon (systemd unit tuned.service active, or a tuned process in
/proc: the pod must share the host's PID namespace) or the OpenShift Node
Tuning Operator's tuned pod (openshift-tuned). It then exits 1 and writes
the reason to --termination-log, which Kubernetes shows as the container's
termination message.

It applies PROFILE_FILE (as 'apply --yes') and checks the host against it.
Every --poll it hashes the file's content, following symlinks (a ConfigMap
volume swaps a symlink when the ConfigMap changes), and applies again when
the content changed; every --resync it checks the host again. It does not
re-apply on drift: drift is reported, the operator decides.

It never reboots. When the check leaves settings pending-reboot (kernel
arguments), it writes /run/reboot-required under the host root, the file
kured watches as /var/run/reboot-required, and says so in the log and in
nettune_agent_reboot_required.

Served on --listen: /metrics (what 'nettune exporter PROFILE_FILE' serves
plus nettune_agent_* metrics), /healthz ("ok" while the server runs) and
/readyz: 200 when the current content of the file is applied and the last
check found every setting ok or pending-reboot, 503 otherwise (the file
does not load, the apply failed or was rolled back, the host drifted).

A profile that does not load or apply at start is an error (exit 1); a
later change that does not load or apply keeps the agent running, not
ready, with the host as the last good apply left it.`,
		Example: `  nettune agent /etc/nettune/k8s/profile.yaml
  nettune agent --listen :9617 --poll 5s /etc/nettune/k8s/profile.yaml`,
		Annotations: map[string]string{noStructuredOutput: "logs and an HTTP server"},
		Args:        cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.poll <= 0 || o.resync <= 0 {
				return errors.New("--poll and --resync must be positive durations")
			}
			log := a.log
			if !cmd.Flags().Changed("log-level") {
				log = slog.New(slog.NewTextHandler(a.io.ErrOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
			}
			err := a.runAgent(cmd.Context(), log, args[0], o)
			if err != nil {
				log.Error("agent stopped", "err", err)
				writeTerminationLog(o.terminationLog, err.Error())
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", ":9617", "address to serve /metrics, /healthz and /readyz on")
	f.DurationVar(&o.poll, "poll", 5*time.Second, "how often to hash PROFILE_FILE for a change")
	f.DurationVar(&o.resync, "resync", time.Minute, "how often to check the host against the profile (readiness, reboot sentinel)")
	f.StringVar(&o.terminationLog, "termination-log", "/dev/termination-log", "file for the reason the agent stopped (Kubernetes' terminationMessagePath); written only if it exists")
	return cmd
}

// writeTerminationLog writes msg to path when path exists: Kubernetes
// creates the file in the container; outside a pod nothing is created.
func writeTerminationLog(path, msg string) {
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return
	}
	defer f.Close()
	io.WriteString(f, msg+"\n")
}

func (a *app) runAgent(ctx context.Context, log *slog.Logger, file string, o agentOptions) error {
	eng, err := a.engine()
	if err != nil {
		return err
	}
	ag := &agent{log: log, eng: eng, file: file}
	if err := ag.refuseOtherManager(); err != nil {
		return err
	}
	if err := ag.sync(ctx); err != nil {
		return err
	}
	// The exporter's collector plans on an engine of its own.
	eng2, err := a.engine()
	if err != nil {
		return err
	}
	c := &exporter.Collector{Engine: eng2, Log: log}
	if c.Profile, err = exporter.NewProfileWatcher(file, log); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		return err
	}
	if err := reg.Register(ag); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", ag.serveReady)
	mux.Handle("/", exporter.Handler(reg))

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("serving /metrics, /healthz and /readyz", "addr", ln.Addr().String())
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()

	poll := time.NewTicker(o.poll)
	defer poll.Stop()
	lastCheck := time.Now()
	for {
		select {
		case <-ctx.Done():
			log.Info("stopping", "reason", context.Cause(ctx))
			return nil
		case err := <-serveErr:
			return fmt.Errorf("serving metrics: %w", err)
		case <-poll.C:
		}
		sum, err := hashFile(file)
		if err != nil {
			log.Warn("cannot read the profile file", "file", file, "err", err)
			continue
		}
		if sum != ag.current().hash {
			log.Info("the profile file changed: applying it", "file", file, "sha256", sum)
			if err := ag.refuseOtherManager(); err != nil {
				return err
			}
			if err := ag.sync(ctx); err != nil {
				log.Error("the new profile is not applied; the host keeps the last good apply", "err", err)
			}
			lastCheck = time.Now()
		} else if time.Since(lastCheck) >= o.resync {
			ag.recheck(ctx)
			lastCheck = time.Now()
		}
	}
}

// agent is the state of nettune agent. Scrapes and /readyz read it while
// the loop writes it.
type agent struct {
	log  *slog.Logger
	eng  *engine.Engine
	file string

	mu sync.Mutex
	st agentState
	// good is the last profile that applied: the one rechecks use.
	good *profile.Profile
}

type agentState struct {
	// hash is the sha256 of the file content last tried.
	hash string
	// name is the profile's name (of the last good apply).
	name string
	// applied: the content of hash loaded and applied.
	applied      bool
	applies      int
	failures     int
	generation   int
	appliedAt    time.Time
	status       string // of the last check: ok, drift, pending-reboot, error
	pending      int    // settings pending reboot at the last check
	lastErr      error
	rebootMarked bool
}

func (ag *agent) current() agentState {
	ag.mu.Lock()
	defer ag.mu.Unlock()
	return ag.st
}

// ready is /readyz's answer.
func (s agentState) ready() (bool, string) {
	switch {
	case s.lastErr != nil:
		return false, "not ready: " + s.lastErr.Error()
	case !s.applied:
		return false, "not ready: the profile is not applied"
	case s.status == string(plan.OK) || s.status == string(plan.PendingReboot):
		msg := fmt.Sprintf("ready: profile %q applied, check %s", s.name, s.status)
		if s.pending > 0 {
			msg += fmt.Sprintf(" (%d setting(s) wait for a reboot)", s.pending)
		}
		return true, msg
	}
	return false, fmt.Sprintf("not ready: profile %q applied, check %s", s.name, s.status)
}

func (ag *agent) serveReady(w http.ResponseWriter, _ *http.Request) {
	ok, msg := ag.current().ready()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	io.WriteString(w, msg+"\n")
}

func hashFile(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

// sync loads, applies and checks the profile file. The returned error is
// also the state's until the next sync.
func (ag *agent) sync(ctx context.Context) error {
	sum, err := hashFile(ag.file)
	if err == nil {
		var p *profile.Profile
		if p, err = profile.Load(ag.file); err == nil {
			err = ag.apply(ctx, p)
		}
	}
	ag.mu.Lock()
	ag.st.hash = sum
	ag.st.applies++
	ag.st.lastErr = err
	ag.st.applied = err == nil
	if err != nil {
		ag.st.failures++
	}
	ag.mu.Unlock()
	if err != nil {
		return fmt.Errorf("profile %s: %w", ag.file, err)
	}
	ag.recheck(ctx)
	return nil
}

func (ag *agent) apply(ctx context.Context, p *profile.Profile) error {
	res, err := ag.eng.ApplyWith(ctx, p, engine.ApplyOptions{}, nil)
	if err != nil {
		if res != nil && res.Plan != nil {
			for _, pr := range res.Plan.Errors() {
				ag.log.Error("the profile does not fit this host", "problem", pr.Message)
			}
		}
		return err
	}
	ag.log.Info("applied", "profile", p.Metadata.Name, "changes", len(res.Applied), "generation", res.Generation, "unsupported", len(res.Unsupported))
	ag.mu.Lock()
	ag.good = p
	ag.st.name = p.Metadata.Name
	ag.st.appliedAt = time.Now()
	if res.Generation > 0 {
		ag.st.generation = res.Generation
	}
	ag.mu.Unlock()
	return nil
}

// recheck checks the host against the last good profile and publishes a
// pending reboot.
func (ag *agent) recheck(ctx context.Context) {
	ag.mu.Lock()
	p := ag.good
	ag.mu.Unlock()
	if p == nil {
		return
	}
	status, pending := string(plan.OK), 0
	pr, err := ag.eng.Check(ctx, p)
	switch {
	case pr == nil || err != nil:
		status = "error"
		ag.log.Error("check failed", "err", err)
	case pr.Count(plan.Drift) > 0:
		status = string(plan.Drift)
	case pr.Count(plan.PendingReboot) > 0:
		status = string(plan.PendingReboot)
	}
	if pr != nil {
		pending = pr.Count(plan.PendingReboot)
	}
	marked := false
	if pending > 0 {
		marked = ag.markReboot(p.Metadata.Name, pending)
	}
	ag.mu.Lock()
	if prev := ag.st.status; prev != status {
		ag.log.Info("check", "profile", p.Metadata.Name, "status", status, "was", prev)
	}
	ag.st.status, ag.st.pending, ag.st.rebootMarked = status, pending, marked
	ag.mu.Unlock()
}

// markReboot writes the reboot sentinel unless it exists (another package
// may have written it; it goes away with the reboot, /run being a tmpfs).
// It reports whether the sentinel is there.
func (ag *agent) markReboot(name string, pending int) bool {
	r := ag.eng.Env.Root
	p := r.Run(rebootSentinel)
	if r.Exists(p) {
		return true
	}
	msg := fmt.Sprintf("nettune: profile %s has %d setting(s) that take effect at the next boot\n", name, pending)
	if err := r.W.WriteFile(p, []byte(msg), 0o644); err != nil {
		ag.log.Error("cannot write the reboot sentinel: the node will not be rebooted by kured", "file", r.HostPath(p), "err", err)
		return false
	}
	ag.log.Warn("reboot required: wrote the sentinel kured watches; nettune never reboots by itself", "file", "/var/run/"+rebootSentinel, "pending", pending)
	return true
}

// refuseOtherManager returns an error naming the other tuning manager of
// the node, if there is one.
func (ag *agent) refuseOtherManager() error {
	if who := otherManager(ag.eng.Env.Root); who != "" {
		return fmt.Errorf("another manager tunes this node: %s; nettune does not fight it (stop it, or leave this node out of nettune's nodeSelector)", who)
	}
	return nil
}

// otherManager names the tuned daemon or the Node Tuning Operator's tuned
// when either runs on the host, else "".
func otherManager(r *host.Root) string {
	// systemd keeps this symlink while a unit is active or activating.
	if r.Exists(r.Run("systemd", "units", "invocation:tuned.service")) {
		return "systemd unit tuned.service is active"
	}
	entries, err := os.ReadDir(r.Proc())
	if err != nil {
		return ""
	}
	for _, e := range entries {
		pid := e.Name()
		if _, err := strconv.Atoi(pid); err != nil {
			continue
		}
		cmdline, _ := r.ReadFile(r.Proc(pid, "cmdline"))
		args := strings.Split(string(bytes.TrimRight(cmdline, "\x00")), "\x00")
		for i, arg := range args {
			if i > 2 {
				break
			}
			switch base := filepath.Base(arg); {
			case base == "openshift-tuned" || base == "cluster-node-tuning-operator":
				return fmt.Sprintf("the OpenShift Node Tuning Operator's tuned pod (pid %s: %s)", pid, strings.Join(args, " "))
			case base == "tuned":
				return fmt.Sprintf("the tuned daemon (pid %s: %s)", pid, strings.Join(args, " "))
			}
		}
		if comm, _ := r.ReadString(r.Proc(pid, "comm")); comm == "tuned" {
			return fmt.Sprintf("the tuned daemon (pid %s)", pid)
		}
	}
	return ""
}

var (
	descAgentReady = prometheus.NewDesc("nettune_agent_ready",
		"1 when the profile file's current content is applied and the last check found every setting ok or pending-reboot (what /readyz answers).", nil, nil)
	descAgentApplied = prometheus.NewDesc("nettune_agent_last_apply_success",
		"1 when the last apply of the profile file succeeded, 0 when it did not load or apply (the host keeps the last good apply).", nil, nil)
	descAgentApplies = prometheus.NewDesc("nettune_agent_applies_total",
		"Applies of the profile file since the agent started (at start and on every change of the file).", nil, nil)
	descAgentFailures = prometheus.NewDesc("nettune_agent_apply_failures_total",
		"Applies of the profile file that failed (did not load, did not fit the host, rolled back).", nil, nil)
	descAgentAppliedAt = prometheus.NewDesc("nettune_agent_last_apply_timestamp_seconds",
		"When the last good apply happened (Unix time).", nil, nil)
	descAgentGeneration = prometheus.NewDesc("nettune_agent_generation",
		"The journal generation of the last apply that changed something (0: none since the agent started).", nil, nil)
	descAgentReboot = prometheus.NewDesc("nettune_agent_reboot_required",
		"1 when settings of the profile wait for a reboot and the sentinel /var/run/reboot-required is there for kured; the agent never reboots.", nil, nil)
	descAgentProfile = prometheus.NewDesc("nettune_agent_profile_info",
		"The profile file's content hash (sha256) and name, always 1: a fleet's hosts on the same ConfigMap have the same hash.", []string{"profile", "sha256"}, nil)
)

// Describe implements prometheus.Collector.
func (ag *agent) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAgentReady, descAgentApplied, descAgentApplies, descAgentFailures, descAgentAppliedAt, descAgentGeneration, descAgentReboot, descAgentProfile} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (ag *agent) Collect(ch chan<- prometheus.Metric) {
	s := ag.current()
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	ready, _ := s.ready()
	ch <- prometheus.MustNewConstMetric(descAgentReady, prometheus.GaugeValue, b(ready))
	ch <- prometheus.MustNewConstMetric(descAgentApplied, prometheus.GaugeValue, b(s.applied))
	ch <- prometheus.MustNewConstMetric(descAgentApplies, prometheus.CounterValue, float64(s.applies))
	ch <- prometheus.MustNewConstMetric(descAgentFailures, prometheus.CounterValue, float64(s.failures))
	ch <- prometheus.MustNewConstMetric(descAgentAppliedAt, prometheus.GaugeValue, float64(s.appliedAt.UnixNano())/1e9)
	ch <- prometheus.MustNewConstMetric(descAgentGeneration, prometheus.GaugeValue, float64(s.generation))
	ch <- prometheus.MustNewConstMetric(descAgentReboot, prometheus.GaugeValue, b(s.pending > 0 && s.rebootMarked))
	ch <- prometheus.MustNewConstMetric(descAgentProfile, prometheus.GaugeValue, 1, s.name, s.hash)
}
