package dataplane

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// MainLcore is the EAL lcore id of the main (control) lcore; workers are
// lcores 1..len(Config.Lcores) in the order of Config.Lcores.
const MainLcore = 0

// EALArgs returns the EAL command line for cfg, without the program name:
// the lcore map (main lcore 0 floating on MainCPUs, worker i+1 pinned to
// Lcores[i]), memory options, a file prefix (nettune-<pid> when
// FilePrefix is empty), the PCI allow list (or --no-pci when all ports are
// vdevs), the vdevs and ExtraEAL.
func EALArgs(cfg Config) ([]string, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.MainCPUs) == 0 {
		return nil, invalid("no housekeeping cpus for the main lcore")
	}
	args := []string{
		"--lcores", LcoreMap(cfg.MainCPUs, cfg.Lcores),
		"--main-lcore", strconv.Itoa(MainLcore),
	}
	prefix := cfg.FilePrefix
	if prefix == "" {
		prefix = fmt.Sprintf("nettune-%d", os.Getpid())
	}
	if strings.ContainsAny(prefix, "/ \t\n") {
		return nil, invalid("file prefix %q contains a slash or a space", prefix)
	}
	args = append(args, "--file-prefix", prefix)
	if cfg.NoHuge {
		// --in-memory implies legacy memory, which --no-huge forbids;
		// --no-shconf keeps the shared config out of the runtime dir.
		args = append(args, "--no-huge", "--no-shconf")
	} else {
		args = append(args, "--in-memory")
	}
	if cfg.MemoryMB > 0 {
		args = append(args, "-m", strconv.Itoa(cfg.MemoryMB))
	}
	pci := false
	for _, p := range cfg.Ports {
		if p.PCI != "" {
			args = append(args, "-a", p.DeviceName())
			pci = true
		}
	}
	if !pci {
		args = append(args, "--no-pci")
	}
	for _, p := range cfg.Ports {
		if p.Vdev != "" {
			args = append(args, "--vdev", p.Vdev)
		}
	}
	return append(args, cfg.ExtraEAL...), nil
}

// LcoreMap is the EAL --lcores value mapping lcore 0 to the main CPU set
// and lcore i+1 to workers[i]: LcoreMap([]int{0, 1}, []int{2, 3}) is
// "0@(0-1),1@2,2@3".
func LcoreMap(mainCPUs, workers []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d@%s", MainLcore, cpuGroup(mainCPUs))
	for i, c := range workers {
		fmt.Fprintf(&b, ",%d@%d", i+1, c)
	}
	return b.String()
}

// cpuGroup formats a CPU set in the EAL's group syntax: a bare number for
// one CPU, else ranges in parentheses ("(0-3,8)").
func cpuGroup(cpus []int) string {
	c := sortedCPUs(cpus)
	if len(c) == 1 {
		return strconv.Itoa(c[0])
	}
	var parts []string
	for i := 0; i < len(c); {
		j := i
		for j+1 < len(c) && c[j+1] == c[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(c[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", c[i], c[j]))
		}
		i = j + 1
	}
	return "(" + strings.Join(parts, ",") + ")"
}
