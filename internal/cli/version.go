package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cxloop/cxloop/internal/version"
)

func init() { Register(newVersionCommand) }

// versionOutput is what -o json and -o yaml print.
type versionOutput struct {
	// Client is the build of this kubectl-cx binary.
	Client version.Info `json:"client"`
}

func newVersionCommand(g *Globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of this kubectl-cx",
		Long: `Print the release this kubectl-cx was built from. The manager prints the
same version at startup and with --version, and its image is tagged with it,
so a plugin and a manager of one release agree.`,
		Example: `  kubectl cx version
  kubectl cx version -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := parseOutputFormat(output)
			if err != nil {
				return err
			}
			info := version.Get()
			if format != outputTable {
				return printStructured(g.Streams.Out, format, versionOutput{Client: info})
			}
			_, err = fmt.Fprintf(g.Streams.Out, "kubectl-cx %s\n", info)
			return err
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}
