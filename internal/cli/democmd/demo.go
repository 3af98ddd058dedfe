// Package democmd is `kubectl cx demo`: it runs the cxloop manager on an
// embedded control plane, so it is the one command that imports the
// controllers. It lives apart from package cli so that plan, backtest and
// validate link no reconciler; the binary links it by importing it for its
// registration.
package democmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/cxloop/cxloop/internal/cli"
	"github.com/cxloop/cxloop/internal/demo"
)

func init() { cli.Register(NewCommand) }

// demoK8sVersion is the control-plane version whose binaries the demo looks
// for in the cache; it follows K8S_VERSION in the Makefile.
const demoK8sVersion = "1.37.2"

const demoLong = `Play the whole loop on this machine: an embedded kube-apiserver and etcd,
the cxloop manager with a fast clock, a generated SQLite warehouse, the sample
manifests, and scripted owners who start, resolve and dismiss tasks. Metrics
drop, tasks open, fixes are verified on fresh data or reopened, and a summary
of metrics and tasks ends the story.

The control plane's binaries come from --assets: by default $KUBEBUILDER_ASSETS,
else ${XDG_CACHE_HOME:-~/.cache}/cxloop/k8s/` + demoK8sVersion + ` (what
"make envtest-assets" builds). The warehouse and a kubeconfig are written to
--state-dir. With --keep the control plane stays up after the summary so you
can explore with kubectl; Ctrl-C stops it.

Exits 0 when the story reaches its summary.`

// demoOptions are the flags of `demo`.
type demoOptions struct {
	assets   string
	stateDir string
	dayEvery time.Duration
	days     int
	scale    float64
	keep     bool
	logs     bool
}

// NewCommand builds `kubectl cx demo`.
func NewCommand(g *cli.Globals) *cobra.Command {
	o := &demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Play the closed loop on an embedded control plane and warehouse",
		Long:  demoLong,
		Example: `  # the default story: 60 days, at most one day every 2 seconds
  kubectl cx demo

  # faster, and stop after the summary
  kubectl cx demo --day-every 500ms --keep=false`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.dayEvery <= 0 || o.days <= 0 || o.scale <= 0 {
				return &cli.UsageError{Err: errors.New("--day-every, --days and --scale must be positive")}
			}
			// The story is the demo's output; the manager's own logs are
			// for debugging it. Setting a logger either way also keeps
			// controller-runtime from complaining that none was set.
			if o.logs {
				ctrllog.SetLogger(zap.New(zap.WriteTo(g.Streams.ErrOut)))
			} else {
				ctrllog.SetLogger(logr.Discard())
			}
			res, err := demo.Run(cmd.Context(), demo.Options{
				Assets:   o.assets,
				StateDir: o.stateDir,
				DayEvery: o.dayEvery,
				Days:     o.days,
				Scale:    o.scale,
				Keep:     o.keep,
				Out:      g.Streams.Out,
			})
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			fmt.Fprintf(g.Streams.Out, "\nkubeconfig: %s\n", res.Kubeconfig)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.assets, "assets", defaultAssetsDir(os.Getenv), "directory holding kube-apiserver and etcd")
	f.StringVar(&o.stateDir, "state-dir", ".demo", "directory for the warehouse and the kubeconfig")
	f.DurationVar(&o.dayEvery, "day-every", 2*time.Second, "least wall time one day of the story takes (it paces the story and changes nothing in it)")
	f.IntVar(&o.days, "days", 60, "days of story to play after the start")
	f.Float64Var(&o.scale, "scale", 1, "multiplier of the warehouse's volumes")
	f.BoolVar(&o.logs, "manager-logs", false, "write the manager's logs to stderr")
	f.BoolVar(&o.keep, "keep", isTerminal(g.Streams.In), "keep the control plane running after the summary (default: true when stdin is a terminal)")
	return cmd
}

// noArgs refuses arguments with a usage error, as every command does.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return &cli.UsageError{Err: fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args)}
	}
	return nil
}

// defaultAssetsDir is $KUBEBUILDER_ASSETS, else the cache directory the
// Makefile builds the control plane into.
func defaultAssetsDir(getenv func(string) string) string {
	if dir := getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	cache := getenv("XDG_CACHE_HOME")
	if cache == "" {
		home := getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "cxloop", "k8s", demoK8sVersion)
}

// isTerminal reports whether r is an interactive terminal, where keeping
// the demo up for exploring makes sense; a script or CI gets an exit.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
