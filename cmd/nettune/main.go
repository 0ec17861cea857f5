// Command nettune prepares a Linux host for high-performance and
// kernel-bypass packet processing from one declarative profile.
package main

import (
	"os"

	"github.com/nettune/nettune/internal/cli"
)

func main() { os.Exit(cli.Main()) }
