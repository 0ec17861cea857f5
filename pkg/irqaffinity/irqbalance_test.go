package irqaffinity

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/host"
)

const debianDefault = `# irqbalance reads this file through its systemd unit.
#IRQBALANCE_ONESHOT=
#IRQBALANCE_BANNED_CPULIST=
IRQBALANCE_ARGS="--policyscript=/etc/irqbalance.d/policy"
`

func TestWithBan(t *testing.T) {
	got := WithBan(debianDefault, cpuset.MustParse("2-3,6"), []int{45, 46})
	want := debianDefault + BlockBegin + `
IRQBALANCE_BANNED_CPULIST=2-3,6
IRQBALANCE_ARGS="--policyscript=/etc/irqbalance.d/policy --banirq=45 --banirq=46"
` + BlockEnd + "\n"
	if got != want {
		t.Errorf("WithBan:\n%s\nwant:\n%s", got, want)
	}
	// Idempotent, and removable byte for byte.
	if again := WithBan(got, cpuset.MustParse("2-3,6"), []int{45, 46}); again != got {
		t.Errorf("WithBan twice:\n%s", again)
	}
	if back := WithoutBlock(got); back != debianDefault {
		t.Errorf("WithoutBlock:\n%q", back)
	}
	if b := BannedCPUs(got); b.String() != "2-3,6" {
		t.Errorf("BannedCPUs = %s", b)
	}
	if b := BannedIRQs(got); len(b) != 2 || !b[45] || !b[46] {
		t.Errorf("BannedIRQs = %v", b)
	}
	if a := Assignments(got); a["IRQBALANCE_ARGS"] != "--policyscript=/etc/irqbalance.d/policy" {
		t.Errorf("Assignments outside the block = %v", a)
	}
	// A file without a final newline.
	if got := WithBan("A=1", cpuset.Of(1), nil); !strings.HasPrefix(got, "A=1\n"+BlockBegin) {
		t.Errorf("no final newline: %q", got)
	}
	if b := BannedIRQs(`IRQBALANCE_ARGS="-i 7 --banirq 9"`); !b[7] || !b[9] {
		t.Errorf("short options: %v", b)
	}
}

func TestConfigPath(t *testing.T) {
	for _, tc := range []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"etc/os-release": "ID=debian\n"}, DebianConf},
		{map[string]string{"etc/os-release": "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n"}, RedHatConf},
		{map[string]string{"etc/os-release": "ID=debian\n", "etc/sysconfig/irqbalance": ""}, RedHatConf},
		{map[string]string{}, DebianConf},
	} {
		dir := t.TempDir()
		for p, c := range tc.files {
			os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
			os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644)
		}
		r, _ := host.New(dir)
		if got := ConfigPath(r); got != tc.want {
			t.Errorf("%v: ConfigPath = %s, want %s", tc.files, got, tc.want)
		}
	}
}

// fakeSystemctl is a systemd that knows one unit.
type fakeSystemctl struct {
	st    ServiceState
	calls []string
}

func (f *fakeSystemctl) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	f.calls = append(f.calls, name+" "+strings.Join(args, " "))
	if name != "systemctl" || len(args) != 2 || args[1] != Unit {
		return nil, fmt.Errorf("unexpected %s %v", name, args)
	}
	switch args[0] {
	case "is-active":
		if f.st.Active {
			return []byte("active\n"), nil
		}
		return []byte("inactive\n"), errors.New("exit status 3")
	case "is-enabled":
		if f.st.Enabled {
			return []byte("enabled\n"), nil
		}
		return []byte("disabled\n"), errors.New("exit status 1")
	case "start":
		f.st.Active = true
	case "stop":
		f.st.Active = false
	case "enable":
		f.st.Enabled = true
	case "disable":
		f.st.Enabled = false
	case "try-restart":
	default:
		return nil, fmt.Errorf("unexpected verb %s", args[0])
	}
	return nil, nil
}

func TestService(t *testing.T) {
	r, _ := host.New(t.TempDir())
	if _, err := Service(context.Background(), r); !errors.Is(err, host.ErrOffline) {
		t.Errorf("offline: %v, want ErrOffline", err)
	}
	if err := Restart(context.Background(), r); err != nil {
		t.Errorf("offline restart: %v", err)
	}
	f := &fakeSystemctl{st: ServiceState{Active: true, Enabled: true}}
	r.Exec = f
	ctx := context.Background()
	if err := SetService(ctx, r, ServiceState{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := Service(ctx, r); st.String() != "disabled,inactive" {
		t.Errorf("after stop: %s", st)
	}
	f.calls = nil
	if err := Restart(ctx, r); err != nil || strings.Contains(strings.Join(f.calls, ";"), "try-restart") {
		t.Errorf("restart of a stopped irqbalance ran %v, %v", f.calls, err)
	}
	if err := SetService(ctx, r, ServiceState{Active: true, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	f.calls = nil
	if err := Restart(ctx, r); err != nil || !strings.Contains(strings.Join(f.calls, ";"), "try-restart") {
		t.Errorf("restart of a running irqbalance ran %v, %v", f.calls, err)
	}
	for _, s := range []string{"enabled,active", "disabled,inactive"} {
		st, err := ParseServiceState(s)
		if err != nil || st.String() != s {
			t.Errorf("ParseServiceState(%q) = %v, %v", s, st, err)
		}
	}
	if _, err := ParseServiceState("on"); err == nil {
		t.Error("bad state accepted")
	}
}
