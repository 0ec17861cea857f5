package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/nettune/nettune/internal/output"
	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X .../internal/cli.Version=...".
var Version = "dev"

type versionBody struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print nettune's version",
		Example: `  nettune version
  nettune version -o json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			b := versionBody{Version: Version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
			if info, ok := debug.ReadBuildInfo(); ok {
				for _, s := range info.Settings {
					if s.Key == "vcs.revision" {
						b.Commit = s.Value
					}
				}
			}
			return a.printer.Print(output.Document{Kind: "version", Body: b, Table: func(t *output.TableWriter) {
				t.Line("nettune %s", b.Version)
				if b.Commit != "" {
					t.Line("commit   %s", b.Commit)
				}
				t.Line("go       %s %s", b.Go, b.Platform)
			}})
		},
	}
}

func (a *app) completionCommand() *cobra.Command {
	return &cobra.Command{
		Use:       "completion bash|zsh|fish|powershell",
		Short:     "Print a shell completion script",
		Long:      "Print a completion script. For bash: nettune completion bash > /etc/bash_completion.d/nettune",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Example: `  nettune completion bash > /etc/bash_completion.d/nettune
  nettune completion zsh > "${fpath[1]}/_nettune"
  nettune completion fish > ~/.config/fish/completions/nettune.fish`,
		Annotations: map[string]string{noStructuredOutput: "a shell script"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			out := a.io.Out
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return fmt.Errorf("unknown shell %q; valid choices: bash, zsh, fish, powershell", args[0])
		},
	}
}
