package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// Globals is what every subcommand shares: the kubeconfig flags kubectl
// users know, and the streams to write to.
type Globals struct {
	// ConfigFlags are --kubeconfig, --context, -n/--namespace and the rest
	// of kubectl's connection flags.
	ConfigFlags *genericclioptions.ConfigFlags
	// Streams are stdin, stdout and stderr.
	Streams genericiooptions.IOStreams
}

// Factory builds one subcommand. Subcommands register a Factory from an
// init function in their own file.
type Factory func(*Globals) *cobra.Command

var factories []Factory

// Register adds a subcommand to kubectl-cx. Call it from an init function.
func Register(f Factory) { factories = append(factories, f) }

const rootLong = `kubectl cx works with cxloop's customer-experience loop: the owner's inbox
of ImprovementTasks and the actions on them, offline validation of manifests,
and a self-contained demo.

Install the binary as kubectl-cx anywhere on PATH and call it as "kubectl cx",
or run kubectl-cx directly.

Exit codes:
  0  the command succeeded
  1  the command failed, or the input is invalid (a manifest the API server
     would reject, an action the API server refused)
  2  usage error: unknown command or flag, missing argument, bad flag value`

// NewRootCommand builds the kubectl-cx command tree.
func NewRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	g := &Globals{ConfigFlags: genericclioptions.NewConfigFlags(true), Streams: streams}
	root := &cobra.Command{
		Use:   "kubectl-cx",
		Short: "Work with cxloop metrics and improvement tasks",
		Long:  rootLong,
		Example: `  # the tasks waiting for your team, most urgent first
  kubectl cx tasks --team support

  # check manifests before committing them
  kubectl cx validate -f config/`,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl cx"},
		Args:          cobra.ArbitraryArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		// Runnable so that an unknown subcommand is a usage error rather
		// than a silent help page.
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })
	g.ConfigFlags.AddFlags(root.PersistentFlags())
	cmds := make([]*cobra.Command, 0, len(factories))
	for _, f := range factories {
		cmds = append(cmds, f(g))
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name() < cmds[j].Name() })
	root.AddCommand(cmds...)
	return root
}

// Run executes kubectl-cx with args (without the program name) and returns
// the process exit code. Errors go to streams.ErrOut.
func Run(ctx context.Context, args []string, streams genericiooptions.IOStreams) int {
	root := NewRootCommand(streams)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	var reported *ReportedError
	if !errors.As(err, &reported) {
		fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
	}
	code := exitCode(err)
	if code == ExitUsage && cmd != nil {
		fmt.Fprintf(streams.ErrOut, "See '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// exactArgs is cobra.ExactArgs with a usage error and a named argument.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s takes exactly %d argument (%s), got %d", cmd.CommandPath(), n, what, len(args))
		}
		return nil
	}
}

// noArgs is cobra.NoArgs with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

// Client returns a client for the cluster the kubeconfig flags select.
func (g *Globals) Client() (client.Client, error) {
	cfg, err := g.ConfigFlags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("load the kubeconfig: %w", err)
	}
	// The API server's warnings reach the user as kubectl shows them.
	cfg.WarningHandler = rest.NewWarningWriter(g.Streams.ErrOut, rest.WarningWriterOptions{Deduplicate: true})
	scheme := runtime.NewScheme()
	utilruntime.Must(cxv1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("connect to the cluster: %w", err)
	}
	return c, nil
}

// Namespace returns the namespace from -n, else the kubeconfig's context,
// else "default".
func (g *Globals) Namespace() (string, error) {
	ns, _, err := g.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("read the namespace from the kubeconfig: %w", err)
	}
	return ns, nil
}
