package host

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestDirReaderReadsAsTheRoot: reading a batch through a descriptor of
// its directory gives, file by file, what the root's own reading gives:
// links inside the directory, links up out of it but inside the root,
// absolute links (the root's, not the host's), a link out of the root,
// missing files, a directory.
func TestDirReaderReadsAsTheRoot(t *testing.T) {
	dir := t.TempDir()
	r, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	q := filepath.Join(dir, "sys/class/net/eth9/queues")
	for _, d := range []string{"rx-0", "rx-1", "tx-0"} {
		if err := os.MkdirAll(filepath.Join(q, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, p string) {
		if err := os.Symlink(target, filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	write("sys/class/net/eth9/queues/rx-0/rps_cpus", "3\n")
	write("sys/class/net/eth9/queues/tx-0/xps_cpus", "1\n")
	write("sys/class/net/eth9/speed", "25000\n")
	write("etc-value", "from the root\n")
	link("../tx-0/xps_cpus", "sys/class/net/eth9/queues/rx-1/inside")
	link("../../speed", "sys/class/net/eth9/queues/rx-1/up")
	link("/etc-value", "sys/class/net/eth9/queues/rx-1/absolute")
	link("/etc/hostname", "sys/class/net/eth9/queues/rx-1/out")
	paths := []string{
		filepath.Join(q, "rx-0/rps_cpus"),
		filepath.Join(q, "tx-0/xps_cpus"),
		filepath.Join(q, "rx-1/inside"),
		filepath.Join(q, "rx-1/up"),
		filepath.Join(q, "rx-1/absolute"),
		filepath.Join(q, "rx-1/out"),
		filepath.Join(q, "rx-1/missing"),
		filepath.Join(q, "rx-1"),
		filepath.Join(q, "rx-0/../tx-0/xps_cpus"),
	}
	d := r.dirReaderFor(paths)
	defer d.close()
	if d.fd < 0 || d.dir != q+"/" {
		t.Fatalf("batch directory %q (fd %d), want %q", d.dir, d.fd, q+"/")
	}
	want := []string{"3", "1", "1", "25000", "from the root", "", "", "", "1"}
	for i, p := range paths {
		got, exp := d.read(p), readOne(r, p)
		if got.S != exp.S || (got.Err == nil) != (exp.Err == nil) || got.S != want[i] {
			t.Errorf("%s: through the directory %q, %v; from the root %q, %v; want %q", p, got.S, got.Err, exp.S, exp.Err, want[i])
			continue
		}
		if exp.Err != nil {
			var ge, ee *fs.PathError
			if !errors.As(got.Err, &ge) || !errors.As(exp.Err, &ee) || ge.Path != ee.Path || !errors.Is(got.Err, errors.Unwrap(ee)) {
				t.Errorf("%s: error %v, from the root %v", p, got.Err, exp.Err)
			}
		}
	}
	if got := d.read(filepath.Join(dir, "etc-value")); got.S != "from the root" {
		t.Errorf("a path outside the batch directory: %q, %v", got.S, got.Err)
	}
}

// TestDirReaderBatchDirectory: the directory is the deepest one all paths
// share, and a batch spread over the root gets none.
func TestDirReaderBatchDirectory(t *testing.T) {
	dir := t.TempDir()
	r, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "proc/irq/10"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		paths []string
		want  string
	}{
		{[]string{dir + "/proc/irq/10/smp_affinity_list", dir + "/proc/irq/11/smp_affinity_list"}, dir + "/proc/irq/"},
		{[]string{dir + "/proc/irq/10/a", dir + "/proc/irq/10/b"}, dir + "/proc/irq/10/"},
		{[]string{dir + "/proc/irq/10/a", dir + "/sys/x"}, ""},
		{[]string{dir + "/proc/irq/10/a"}, ""},
		{[]string{dir + "/proc/nosuch/a", dir + "/proc/nosuch/b"}, ""},
	} {
		d := r.dirReaderFor(c.paths)
		if d.dir != c.want || (d.fd >= 0) != (c.want != "") {
			t.Errorf("%v: directory %q (fd %d), want %q", c.paths, d.dir, d.fd, c.want)
		}
		d.close()
	}
}

// TestDirReaderLive: on the live root, in procfs and through sysfs's
// links (/sys/class/net/lo is one), the directory's reading matches a
// plain read.
func TestDirReaderLive(t *testing.T) {
	r, err := New("/")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dir   string
		paths []string
	}{
		{"/proc/sys/kernel/", []string{"/proc/sys/kernel/ostype", "/proc/sys/kernel/osrelease", "/proc/sys/kernel/nosuch"}},
		{"/sys/class/net/lo/queues/", []string{"/sys/class/net/lo/queues/rx-0/rps_cpus", "/sys/class/net/lo/queues/rx-0/rps_flow_cnt", "/sys/class/net/lo/queues/tx-0/xps_rxqs", "/sys/class/net/lo/queues/rx-0/../../mtu", "/sys/class/net/lo/queues/rx-9/rps_cpus"}},
	} {
		if _, err := os.Stat(c.dir); err != nil {
			t.Logf("%s: %v", c.dir, err)
			continue
		}
		d := r.dirReaderFor(c.paths)
		if d.dir != c.dir || d.fd < 0 {
			t.Fatalf("directory %q (fd %d), want %q", d.dir, d.fd, c.dir)
		}
		for _, p := range c.paths {
			got, exp := d.read(p), readOne(r, p)
			if got.S != exp.S || (got.Err == nil) != (exp.Err == nil) {
				t.Errorf("%s: %q, %v; plain %q, %v", p, got.S, got.Err, exp.S, exp.Err)
			}
		}
		d.close()
	}
}
