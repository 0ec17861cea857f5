package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// Command returns nettune's command tree, for generators (man pages,
// completion scripts) that render it without running it.
func Command() *cobra.Command {
	a := &app{io: IO{In: nil, Out: io.Discard, ErrOut: io.Discard}}
	return a.rootCommand()
}
