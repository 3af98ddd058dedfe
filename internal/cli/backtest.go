package cli

import (
	"fmt"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/cxloop/cxloop/controllers"
	"github.com/cxloop/cxloop/internal/clock"
)

func init() { Register(newBacktestCommand) }

type backtestOptions struct {
	planOptions
	from, to string
}

// BacktestReport is backtest's JSON contract.
type BacktestReport struct {
	Events []controllers.ReplayEvent `json:"events"`
	Errors map[string]string         `json:"errors,omitempty"`
}

func newBacktestCommand(g *Globals) *cobra.Command {
	o := &backtestOptions{}
	cmd := &cobra.Command{
		Use:   "backtest -f DIR --from TIME --to TIME",
		Short: "Replay history through the operator's decisions",
		Long: `Replay a time range of each Metric's history through exactly the code the
operator runs: an evaluation at every interval-aligned window end, the
change detector fed each interval once, its state carried from one
evaluation to the next. It prints when tasks would have opened and when
their episodes ended, per segment: the way to tune minShift and the
false-task budget before owners get work.`,
		Example: `  # a quarter of history
  kubectl cx backtest -f deploy/cxloop/ --data-root /data --from 2026-01-01T00:00:00Z --to 2026-04-01T00:00:00Z

  # as JSON for a script
  kubectl cx backtest -f deploy/cxloop/ --from 2026-01-01T00:00:00Z --to 2026-04-01T00:00:00Z -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(o.files) == 0 || o.from == "" || o.to == "" {
				return usageErrorf("backtest needs -f DIR|FILE, --from and --to")
			}
			from, err := time.Parse(time.RFC3339, o.from)
			if err != nil {
				return usageErrorf("--from: %v", err)
			}
			to, err := time.Parse(time.RFC3339, o.to)
			if err != nil || !to.After(from) {
				return usageErrorf("--to must be an RFC 3339 time after --from")
			}
			format, err := parseOutputFormat(o.output)
			if err != nil {
				return err
			}
			set, err := loadManifests(cmd.Context(), &o.planOptions)
			if err != nil {
				return err
			}
			engine := &controllers.Engine{Sources: &controllers.Sources{Secrets: set.secrets, Roots: o.dataRoots}, Clock: clock.NewManual(to)}
			report := BacktestReport{Events: []controllers.ReplayEvent{}}
			for _, m := range set.metrics {
				if m.Spec.Source == nil {
					continue
				}
				ds, ok := set.sources[m.Namespace+"/"+m.Spec.Source.Name]
				if !ok {
					continue
				}
				events, _, err := controllers.Replay(cmd.Context(), engine, m, ds, from, to)
				if err != nil {
					if report.Errors == nil {
						report.Errors = map[string]string{}
					}
					report.Errors[m.Name] = err.Error()
				}
				report.Events = append(report.Events, events...)
			}
			sort.SliceStable(report.Events, func(i, j int) bool { return report.Events[i].At.Before(report.Events[j].At) })
			if format != "table" {
				return printStructured(g.Streams.Out, format, report)
			}
			rows := [][]string{}
			for _, e := range report.Events {
				seg := e.Segment
				if seg == "" {
					seg = "(all)"
				}
				rows = append(rows, []string{e.At.Format(time.RFC3339), e.Metric, seg, e.Event, e.EpisodeStart.Format(time.RFC3339), formatNumber(e.Value)})
			}
			if err := printTable(g.Streams.Out, []string{"AT", "METRIC", "SEGMENT", "EVENT", "EPISODE START", "VALUE"}, rows); err != nil {
				return err
			}
			for name, msg := range report.Errors {
				fmt.Fprintf(g.Streams.ErrOut, "%s: %s\n", name, msg)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&o.files, "filename", "f", nil, "file or directory of manifests (repeatable)")
	cmd.Flags().StringArrayVar(&o.dataRoots, "data-root", []string{"."}, "directory SQLite and CSV sources read under (repeatable)")
	cmd.Flags().StringVar(&o.namespace, "default-namespace", "default", "namespace of manifests that name none")
	cmd.Flags().StringVar(&o.from, "from", "", "start of the replay (RFC 3339)")
	cmd.Flags().StringVar(&o.to, "to", "", "end of the replay (RFC 3339)")
	addOutputFlag(cmd, &o.output)
	return cmd
}
