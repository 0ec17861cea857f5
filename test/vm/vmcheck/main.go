// Command vmcheck holds the assertions of the nested-VM end-to-end tests
// (test/vm). The guest scenario scripts run nettune, save its JSON output
// and call vmcheck to compare that output with sysfs and with other tools
// (dpdk-devbind.py). vmcheck prints what it compared and exits 1 with the
// first mismatch, so a failing scenario says exactly which value was wrong.
//
//	vmcheck devices -devices FILE -devbind FILE ADDR...   nettune devices vs sysfs and dpdk-devbind.py
//	vmcheck active -devices FILE ADDR true|false           the active flag of one device
//	vmcheck check -file FILE -status LIST [-module M -items ok|not-ok]
//	vmcheck run -file FILE                                 forwarded > 0, no leaks, every packet accounted for
//	vmcheck applied -file FILE [-order A,B] 'module|object|attribute|after'...
//	                                                       changes nettune apply made, and their order
//
// Field names of documents that other packages are still defining (devices,
// run) are matched loosely: case, '_' and '-' are ignored and one level of
// nesting is folded into the key (iommu.group matches iommuGroup), see
// fields.go. Values are compared strictly.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run executes one vmcheck command and returns the exit code: 0 when every
// assertion holds, 1 on a failed assertion, 2 on a usage error.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: vmcheck devices|active|check|run|applied [flags] [args]")
		return 2
	}
	cmds := map[string]func([]string, io.Writer) error{
		"devices": cmdDevices,
		"active":  cmdActive,
		"check":   cmdCheck,
		"run":     cmdRun,
		"applied": cmdApplied,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "vmcheck: unknown command %q\n", args[0])
		return 2
	}
	err := cmd(args[1:], stdout)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "vmcheck %s: %v\n", args[0], err)
		return 2
	}
	fmt.Fprintf(stderr, "vmcheck %s: FAIL: %v\n", args[0], err)
	return 1
}

// usageError is a wrong command line, not a failed assertion.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	return nil
}
