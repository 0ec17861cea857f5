package exporter

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nettune/nettune/pkg/profile"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	descLoadSuccess = prometheus.NewDesc("nettune_profile_last_load_success",
		"1 when the last (re)load of the profile succeeded, 0 when it failed and the exporter checks the last good profile.", nil, nil)
	descLoadedAt = prometheus.NewDesc("nettune_profile_loaded_timestamp_seconds",
		"When the profile being checked was loaded (Unix time).", nil, nil)
	descLoadErrors = prometheus.NewDesc("nettune_profile_load_errors_total",
		"Reloads of the profile that failed since the exporter started.", nil, nil)
)

// ProfileWatcher holds the profile the exporter checks and reloads it when
// one of its files changes. Scrapes call it concurrently.
type ProfileWatcher struct {
	ref string
	log *slog.Logger

	mu sync.Mutex
	// cur is the last profile that loaded; it is never modified, so a
	// scrape that got it keeps a whole profile whatever reloads happen.
	cur      *profile.Profile
	hash     string // profileHash(cur)
	loadedAt time.Time
	// files are the files a change of which makes a reload, and seen
	// their stamps when last loaded (or tried).
	files []string
	seen  []stamp
	// lastErr is the error of the last reload, nil when it succeeded.
	lastErr error
	errors  int
}

// NewProfileWatcher loads the profile ref (as profile.Load does). An error
// here is the caller's to report: the exporter does not start without a
// profile that loads.
func NewProfileWatcher(ref string, log *slog.Logger) (*ProfileWatcher, error) {
	p, err := profile.Load(ref)
	if err != nil {
		return nil, err
	}
	w := &ProfileWatcher{ref: ref, log: log}
	w.loaded(p)
	return w, nil
}

// profileState is what one scrape uses: the profile to check and how
// loading it went.
type profileState struct {
	profile  *profile.Profile
	hash     string
	loadedAt time.Time
	lastErr  error
	errors   int
}

// current reloads the profile when one of its files changed since the last
// try and returns the profile to check. A profile that no longer loads
// leaves the last good one in place, with the error.
func (w *ProfileWatcher) current() profileState {
	w.mu.Lock()
	defer w.mu.Unlock()
	if now := stamps(w.files); !slices.Equal(now, w.seen) {
		w.seen = now
		if p, err := profile.Load(w.ref); err != nil {
			w.lastErr = err
			w.errors++
			w.log.Error("reload of the profile failed: checking the profile loaded before", "profile", w.ref, "loaded", w.loadedAt.Format(time.RFC3339), "err", err)
		} else {
			w.loaded(p)
			w.log.Info("profile reloaded", "profile", w.ref, "name", p.Metadata.Name)
		}
	}
	return profileState{profile: w.cur, hash: w.hash, loadedAt: w.loadedAt, lastErr: w.lastErr, errors: w.errors}
}

// loaded makes p the profile to check.
func (w *ProfileWatcher) loaded(p *profile.Profile) {
	w.cur, w.hash, w.loadedAt, w.lastErr = p, profileHash(p), time.Now(), nil
	w.files = watchedFiles(w.ref, p)
	w.seen = stamps(w.files)
}

// collect exports how loading went; false when the last reload failed.
func (s profileState) collect(ch chan<- prometheus.Metric) bool {
	ok := 1.0
	if s.lastErr != nil {
		ok = 0
	}
	ch <- prometheus.MustNewConstMetric(descLoadSuccess, prometheus.GaugeValue, ok)
	ch <- prometheus.MustNewConstMetric(descLoadedAt, prometheus.GaugeValue, float64(s.loadedAt.UnixNano())/1e9)
	ch <- prometheus.MustNewConstMetric(descLoadErrors, prometheus.CounterValue, float64(s.errors))
	ch <- prometheus.MustNewConstMetric(descProfileInfo, prometheus.GaugeValue, 1, s.profile.Metadata.Name, s.hash)
	return s.lastErr == nil
}

// watchedFiles lists the files whose change makes a reload: ref itself (a
// file, or for a name, the file in profile.EtcDir that would take the
// place of a shipped profile), the file p was read from and every file of
// its extends chain that set something. A shipped profile is part of the
// binary: it changes with nettune, not while the exporter runs.
func watchedFiles(ref string, p *profile.Profile) []string {
	files := []string{ref}
	if !strings.ContainsRune(ref, '/') {
		files = append(files, filepath.Join(profile.EtcDir, strings.TrimSuffix(ref, ".yaml")+".yaml"))
	}
	files = append(files, p.Source)
	for _, pos := range p.Positions {
		files = append(files, pos.File)
	}
	files = slices.DeleteFunc(files, func(f string) bool { return strings.HasPrefix(f, "shipped:") })
	slices.Sort(files)
	return slices.Compact(files)
}

// stamp identifies a version of a file: an edit in place changes its size
// or times, an editor's rename-over changes the inode. The zero stamp
// stands for a file that cannot be found.
type stamp struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64
}

func stamps(files []string) []stamp {
	out := make([]stamp, len(files))
	for i, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			continue
		}
		out[i].size, out[i].mtime = st.Size(), st.ModTime().UnixNano()
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			out[i].dev, out[i].ino = sys.Dev, sys.Ino
			out[i].ctime = sys.Ctim.Nano()
		}
	}
	return out
}
