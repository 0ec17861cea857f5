// Command nettune-forwarder is nettune's DPDK forwarder, the only nettune
// program linking DPDK; nettune run execs it (docs/run.md).
package main

import (
	"os"

	"github.com/nettune/nettune/pkg/dataplane/forwarder"
)

func main() { os.Exit(forwarder.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
