// Package systemd makes nettune's settings survive a reboot: it records the
// active profile under /etc/nettune and installs a oneshot unit that
// re-applies the live settings and device bindings early at boot, before
// the network is configured (ordered before network-pre.target), plus a
// udev rule and a template unit that re-apply the NIC settings when a NIC
// appears (hotplug, driver reload, a VF created later).
//
// Settings that persist by themselves (sysctl.d, the bootloader's kernel
// arguments, fstab) need none of this; ring sizes, channels, IRQ
// affinities, RPS masks, runtime hugepages and vfio-pci bindings do.
package systemd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"text/template"

	"github.com/nettune/nettune/pkg/host"
)

// Host paths of the installed files.
const (
	ProfilePath = "/etc/nettune/profile.yaml"
	ApplyUnit   = "/etc/systemd/system/nettune-apply.service"
	NICUnit     = "/etc/systemd/system/nettune-nic@.service"
	UdevRule    = "/etc/udev/rules.d/90-nettune.rules"
	// Marker is in every installed file.
	Marker = "Managed by nettune"
)

// Files are the installed files in install order.
var Files = []string{ProfilePath, ApplyUnit, NICUnit, UdevRule}

var unitTmpl = template.Must(template.New("units").Parse(`{{define "apply"}}# {{.Marker}} ('nettune install'); removed by 'nettune uninstall'.
[Unit]
Description=nettune: apply the host tuning profile
Documentation=man:nettune(8) https://github.com/nettune/nettune/blob/main/docs/commands.md
DefaultDependencies=no
After=local-fs.target systemd-modules-load.service systemd-sysctl.service
Before=network-pre.target sysinit.target shutdown.target
Wants=network-pre.target
Conflicts=shutdown.target
ConditionPathExists={{.Profile}}

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart={{.Binary}} apply --yes --log-level info {{.Profile}}
StandardOutput=journal

[Install]
WantedBy=sysinit.target
{{end}}{{define "nic"}}# {{.Marker}} ('nettune install'); removed by 'nettune uninstall'.
[Unit]
Description=nettune: apply NIC settings to %I
Documentation=https://github.com/nettune/nettune/blob/main/docs/commands.md
After=nettune-apply.service
ConditionPathExists={{.Profile}}
StartLimitIntervalSec=60
StartLimitBurst=5

[Service]
Type=oneshot
ExecStart={{.Binary}} apply --yes --only nics,irqbalance --log-level info {{.Profile}}
# Another nettune may hold the lock for a moment (the boot apply, a second NIC).
Restart=on-failure
RestartSec=2
{{end}}{{define "udev"}}# {{.Marker}} ('nettune install'); removed by 'nettune uninstall'.
# Re-apply nettune's NIC settings when a network device appears.
ACTION=="add", SUBSYSTEM=="net", KERNEL!="lo", TAG+="systemd", ENV{SYSTEMD_WANTS}+="nettune-nic@%k.service"
{{end}}`))

// Render returns the content of each installed file except the profile.
func Render(binary string) (map[string]string, error) {
	data := struct{ Marker, Binary, Profile string }{Marker, binary, ProfilePath}
	out := map[string]string{}
	for file, name := range map[string]string{ApplyUnit: "apply", NICUnit: "nic", UdevRule: "udev"} {
		var b bytes.Buffer
		if err := unitTmpl.ExecuteTemplate(&b, name, data); err != nil {
			return nil, err
		}
		out[file] = b.String()
	}
	return out, nil
}

// Install writes the profile and the units under the root and, on the live
// host, reloads systemd and udev and enables the boot unit. It refuses to
// overwrite files it did not write. It returns warnings for steps skipped
// on an offline root.
func Install(ctx context.Context, r *host.Root, binary string, profileYAML []byte) ([]string, error) {
	if strings.ContainsAny(binary, " \t\n\"'\\") {
		return nil, fmt.Errorf("nettune's path %q contains characters a unit file cannot hold; install the binary under a plain path", binary)
	}
	units, err := Render(binary)
	if err != nil {
		return nil, err
	}
	contents := map[string][]byte{ProfilePath: append([]byte("# "+Marker+" ('nettune install'): the profile applied at boot.\n"), profileYAML...)}
	for f, c := range units {
		contents[f] = []byte(c)
	}
	for _, f := range Files {
		if b, err := r.ReadFile(r.Path(f)); err == nil && !bytes.Contains(b, []byte(Marker)) {
			return nil, fmt.Errorf("%s exists and was not written by nettune; refusing to overwrite it", f)
		}
	}
	for _, f := range Files {
		if err := r.W.WriteFile(r.Path(f), contents[f], 0o644); err != nil {
			return nil, err
		}
	}
	return reload(ctx, r, "enable")
}

// Uninstall disables the boot unit and removes the installed files (only
// those carrying nettune's marker).
func Uninstall(ctx context.Context, r *host.Root) ([]string, error) {
	warnings, err := reload(ctx, r, "disable")
	if err != nil {
		return warnings, err
	}
	removed := 0
	for _, f := range Files {
		b, err := r.ReadFile(r.Path(f))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return warnings, err
		}
		if !bytes.Contains(b, []byte(Marker)) {
			warnings = append(warnings, fmt.Sprintf("%s was not written by nettune; left in place", f))
			continue
		}
		if err := r.W.Remove(r.Path(f)); err != nil {
			return warnings, err
		}
		removed++
	}
	if removed == 0 {
		warnings = append(warnings, "nothing was installed")
	}
	// The directory goes too when nothing else is in it; the Writer
	// resolves it inside the root like every other removal.
	if err := r.W.Remove(r.Path("/etc/nettune")); err != nil && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		warnings = append(warnings, err.Error())
	}
	if r.Live() {
		if _, err := r.Exec.Run(ctx, "systemctl", "daemon-reload"); err != nil {
			warnings = append(warnings, err.Error())
		}
	}
	return warnings, nil
}

// reload runs systemctl and udevadm on the live host; on an offline root it
// says what it skipped.
func reload(ctx context.Context, r *host.Root, verb string) ([]string, error) {
	if !r.Live() {
		return []string{fmt.Sprintf("offline root: not run: systemctl daemon-reload; systemctl %s nettune-apply.service; udevadm control --reload", verb)}, nil
	}
	var warnings []string
	if verb == "disable" {
		if _, err := r.Exec.Run(ctx, "systemctl", "disable", "nettune-apply.service"); err != nil {
			warnings = append(warnings, err.Error())
		}
		return warnings, nil
	}
	if _, err := r.Exec.Run(ctx, "systemctl", "daemon-reload"); err != nil {
		return nil, err
	}
	if _, err := r.Exec.Run(ctx, "systemctl", verb, "nettune-apply.service"); err != nil {
		return nil, err
	}
	if _, err := r.Exec.Run(ctx, "udevadm", "control", "--reload"); err != nil {
		warnings = append(warnings, err.Error())
	}
	return warnings, nil
}
