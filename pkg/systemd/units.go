// Package systemd makes nettune's settings survive a reboot: it records the
// active profile under /etc/nettune and installs, split by what each part
// needs:
//
//   - nettune-apply.service, a oneshot early at boot (before
//     network-pre.target) that applies the host-wide sections, which need
//     no NIC: sysctl, cpu, hugepages (and irqbalance when the profile has
//     no NICs, whose IRQs it would ban); then, separately so that a missing
//     device fails only that step, spec.devices;
//   - a udev rule that matches only the profile's NICs (spec.nics[].match)
//     and starts nettune-nic@<ifname>.service when one appears, which
//     applies that NIC's settings alone ('nettune apply --nic'). A NIC that
//     never appears blocks nothing else.
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
	"syscall"
	"text/template"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/profile"
)

// Host paths of the installed files.
const (
	ProfilePath = "/etc/nettune/profile.yaml"
	ApplyUnit   = "/etc/systemd/system/nettune-apply.service"
	NICUnit     = "/etc/systemd/system/nettune-nic@.service"
	UdevRule    = "/etc/udev/rules.d/90-nettune.rules"
	// ModulesLoad loads the drivers spec.devices binds to at boot; only
	// written when the profile binds a device to a userspace driver.
	ModulesLoad = "/etc/modules-load.d/nettune.conf"
	// Marker is in every installed file.
	Marker = "Managed by nettune"
	// DocsURL is the units' documentation when the man page is not
	// installed.
	DocsURL = "https://github.com/nettune/nettune/blob/main/docs/packaging.md"
)

// Files are the files install may write, in install order.
var Files = []string{ProfilePath, ApplyUnit, NICUnit, UdevRule, ModulesLoad}

// Sections the boot unit applies early: none of them waits for a NIC or a
// device to appear.
const (
	earlySections      = "sysctl,cpu,hugepages"
	earlySectionsNoNIC = earlySections + ",irqbalance"
)

var unitTmpl = template.Must(template.New("units").Parse(`{{define "apply"}}# {{.Marker}} ('nettune install'); removed by 'nettune uninstall'.
[Unit]
Description=nettune: apply the host-wide settings of the profile
Documentation={{.Doc}}
DefaultDependencies=no
After=local-fs.target systemd-modules-load.service systemd-sysctl.service
Before=network-pre.target sysinit.target shutdown.target
Wants=network-pre.target
Conflicts=shutdown.target
ConditionPathExists={{.Profile}}

[Service]
Type=oneshot
RemainAfterExit=yes
# Host-wide sections: nothing here waits for a NIC or a device.
ExecStart={{.Binary}} apply --yes --log-level info --only {{.Early}} {{.Profile}}
# Device bindings ('-': a device that is missing fails this step alone).
# The udev rule binds each device as it appears; this step binds one a
# driver in the initramfs claimed first, and records the binding.
ExecStart=-{{.Binary}} apply --yes --log-level info --only devices {{.Profile}}
StandardOutput=journal

[Install]
WantedBy=sysinit.target
{{end}}{{define "nic"}}# {{.Marker}} ('nettune install'); removed by 'nettune uninstall'.
[Unit]
Description=nettune: apply the profile's settings of NIC %i
Documentation={{.Doc}}
After=nettune-apply.service
ConditionPathExists={{.Profile}}
StartLimitIntervalSec=60
StartLimitBurst=5

[Service]
Type=oneshot
ExecStart={{.Binary}} apply --yes --log-level info --nic %i {{.Profile}}
{{- if .IRQBalanceAfterNIC}}
# irqbalance's ban list holds the IRQs the NIC settings pin, whose numbers
# can change from boot to boot: made again with each NIC that appears.
ExecStart={{.Binary}} apply --yes --log-level info --only irqbalance {{.Profile}}
{{- end}}
# Another nettune may hold the lock for a moment (the boot apply, a second NIC).
Restart=on-failure
RestartSec=2
{{end}}{{define "udev"}}# {{.Marker}} ('nettune install'); removed by 'nettune uninstall'.
{{- if .Generic}}
# No profile: 'nettune install PROFILE' writes /etc/udev/rules.d/90-nettune.rules
# with rules for the profile's NICs and devices, which replaces this file.
{{- else}}
# Apply nettune's settings of a profile NIC when it appears, to it alone.
{{- range .NICRules}}
{{.}}
{{- else}}
# The profile tunes no NIC.
{{- end}}
{{- if .DeviceRules}}
# Bind spec.devices to their userspace driver when they appear, before a
# kernel driver claims them (driver_override, as driverctl does); the
# drivers are loaded at boot by {{.ModulesLoad}}.
{{- range .DeviceRules}}
{{.}}
{{- end}}
{{- end}}
{{- end}}
{{end}}{{define "modules"}}# {{.Marker}} ('nettune install'); removed by 'nettune uninstall'.
# Drivers spec.devices binds to, loaded at boot so that the devices the udev
# rule gives a driver_override are probed by them.
{{- range .Modules}}
{{.}}
{{- end}}
{{end}}`))

// Options says what the units and the rule are rendered for.
type Options struct {
	// Binary is the absolute path of nettune the units run.
	Binary string
	// ManPage: nettune(8) is installed, so Documentation= names it.
	ManPage bool
	// Spec is the installed profile's; nil renders the package's copies,
	// which no profile selects (the rule matches nothing).
	Spec *profile.Spec
}

// Render returns the package's copies of the units and the rule (the man
// page ships with them): the same as 'nettune install' writes, except the
// rule, which needs a profile and starts nothing.
func Render(binary string) (map[string]string, error) {
	return RenderFor(Options{Binary: binary, ManPage: true})
}

// RenderFor returns the content of each installed file except the profile;
// ModulesLoad only when the profile binds a device to a userspace driver.
func RenderFor(o Options) (map[string]string, error) {
	data := struct {
		Marker, Binary, Profile, Doc, Early string
		ModulesLoad                         string
		Generic, IRQBalanceAfterNIC         bool
		NICRules, DeviceRules, Modules      []string
	}{Marker: Marker, Binary: o.Binary, Profile: ProfilePath, Doc: DocsURL, Early: earlySectionsNoNIC, ModulesLoad: ModulesLoad, Generic: o.Spec == nil}
	if o.ManPage {
		data.Doc = "man:nettune(8) " + DocsURL
	}
	if o.Spec != nil {
		rules, err := nicRules(o.Spec.NICs)
		if err != nil {
			return nil, err
		}
		data.NICRules = rules
		if len(o.Spec.NICs) > 0 {
			data.Early = earlySections
			data.IRQBalanceAfterNIC = o.Spec.IRQBalance != nil
		}
		if data.DeviceRules, data.Modules, _, err = deviceRules(o.Spec.Devices); err != nil {
			return nil, err
		}
	}
	files := map[string]string{ApplyUnit: "apply", NICUnit: "nic", UdevRule: "udev"}
	if len(data.Modules) > 0 {
		files[ModulesLoad] = "modules"
	}
	out := map[string]string{}
	for file, name := range files {
		var b bytes.Buffer
		if err := unitTmpl.ExecuteTemplate(&b, name, data); err != nil {
			return nil, err
		}
		out[file] = b.String()
	}
	return out, nil
}

// Install writes the profile and the units under the root and, on the live
// host, reloads systemd and udev and enables the boot unit. It refuses a
// binary the units could not run at the next boot (checkBinary); the units
// name nettune(8) only when it is installed. It refuses to
// overwrite files it did not write. It returns warnings for steps skipped
// on an offline root.
func Install(ctx context.Context, r *host.Root, binary string, profileYAML []byte) ([]string, error) {
	if err := checkBinary(r, binary); err != nil {
		return nil, err
	}
	p, err := profile.Parse(ProfilePath, profileYAML)
	if err != nil {
		return nil, fmt.Errorf("the profile to install: %w", err)
	}
	units, err := RenderFor(Options{Binary: binary, ManPage: manPageInstalled(r), Spec: &p.Spec})
	if err != nil {
		return nil, err
	}
	_, _, warnings, _ := deviceRules(p.Spec.Devices)
	contents := map[string][]byte{ProfilePath: append([]byte("# "+Marker+" ('nettune install'): the profile applied at boot.\n"), profileYAML...)}
	for f, c := range units {
		contents[f] = []byte(c)
	}
	for _, f := range Files {
		if b, err := r.ReadFile(r.Path(f)); err == nil && !bytes.Contains(b, []byte(Marker)) {
			if _, ours := contents[f]; ours {
				return nil, fmt.Errorf("%s exists and was not written by nettune; refusing to overwrite it", f)
			}
		}
	}
	for _, f := range Files {
		c, ok := contents[f]
		if !ok {
			// Not needed by this profile: an earlier install's copy goes.
			if b, err := r.ReadFile(r.Path(f)); err == nil && bytes.Contains(b, []byte(Marker)) {
				if err := r.W.Remove(r.Path(f)); err != nil {
					return nil, err
				}
			}
			continue
		}
		if err := r.W.WriteFile(r.Path(f), c, 0o644); err != nil {
			return nil, err
		}
	}
	more, err := reload(ctx, r, "enable")
	return append(warnings, more...), err
}

// Installed lists the files install wrote that are under the root.
func Installed(r *host.Root) []string {
	var out []string
	for _, f := range Files {
		if b, err := r.ReadFile(r.Path(f)); err == nil && bytes.Contains(b, []byte(Marker)) {
			out = append(out, f)
		}
	}
	return out
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

// manPages are where make install and the package put nettune(8).
var manPages = []string{
	"/usr/share/man/man8/nettune.8.gz", "/usr/share/man/man8/nettune.8",
	"/usr/local/share/man/man8/nettune.8.gz", "/usr/local/share/man/man8/nettune.8",
}

// manPageInstalled reports whether nettune(8) is installed under the root,
// so that a unit's Documentation=man:nettune(8) leads somewhere.
func manPageInstalled(r *host.Root) bool {
	for _, m := range manPages {
		if _, err := os.Stat(r.Path(m)); err == nil {
			return true
		}
	}
	return false
}
