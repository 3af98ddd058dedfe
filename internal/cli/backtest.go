package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/spf13/cobra"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/scorecard"
	"github.com/cxloop/cxloop/internal/source"
)

func init() { Register(newBacktestCommand) }

type backtestOptions struct {
	planOptions
	from, to     string
	resolveAfter time.Duration
}

// BacktestReport is backtest's JSON contract.
type BacktestReport struct {
	Events []engine.ReplayEvent `json:"events"`
	Errors map[string]string    `json:"errors,omitempty"`
}

func newBacktestCommand(g *Globals) *cobra.Command {
	o := &backtestOptions{}
	cmd := &cobra.Command{
		Use:   "backtest -f DIR --from TIME --to TIME",
		Short: "Replay history through the operator's decisions",
		Long: `Replay a time range of each Metric's history through exactly the code the
operator runs: an evaluation at every interval-aligned window end, the
change detector fed each interval once, its state carried from one
evaluation to the next, task planning against the tasks it would have
opened (maxOpenTasks, the team's capacity from its Team manifest, dry
runs) and each task's state machine. It prints when tasks would have
opened (TaskOpened), been held back (HeldBack, with the reason) and when
their episodes ended (EpisodeEnded), per segment: the way to tune
minShift and the false-task budget before owners get work.

With --resolve-after the owners' part is played too: every task is
resolved that long after it opens or reopens, and verification on the
data that follows shows Verified, Reopened, Escalated or Recovered as the
operator would have decided.`,
		Example: `  # a quarter of history
  kubectl cx backtest -f deploy/cxloop/ --data-root /data --from 2026-01-01T00:00:00Z --to 2026-04-01T00:00:00Z

  # what verification would have said had owners resolved each task after a week
  kubectl cx backtest -f deploy/cxloop/ --from 2026-01-01T00:00:00Z --to 2026-04-01T00:00:00Z --resolve-after 168h

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
			report := runBacktest(cmd.Context(), set, o, from, to, g.Streams.ErrOut)
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
				// An Excluded event belongs to no episode.
				start := ""
				if !e.EpisodeStart.IsZero() {
					start = e.EpisodeStart.Format(time.RFC3339)
				}
				rows = append(rows, []string{e.At.Format(time.RFC3339), e.Metric, seg, e.Event, start,
					formatNumber(e.Value), e.Reason})
			}
			if err := printTable(g.Streams.Out, []string{"AT", "METRIC", "SEGMENT", "EVENT", "EPISODE START", "VALUE", "REASON"}, rows); err != nil {
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
	cmd.Flags().DurationVar(&o.resolveAfter, "resolve-after", 0, "play the owner: resolve each task this long after it opens or reopens, and verify the fix on the data that follows")
	addOutputFlag(cmd, &o.output)
	return cmd
}

// runBacktest replays every Metric of the manifests, several at once
// (forEach), showing progress on errOut when it is a terminal. Events are
// in time order, Metrics in manifest order within an instant. Metrics of
// one DataSource share its connection, and those that differ only in one
// filter's value share their history statements (source.SharedHistory).
func runBacktest(ctx context.Context, set *manifestSet, o *backtestOptions, from, to time.Time, errOut io.Writer) BacktestReport {
	sources := &metricspec.Sources{Secrets: set.secrets, Roots: o.dataRoots}
	opened := map[string]source.Source{}
	openErrs := map[string]error{}
	defer func() {
		for _, src := range opened {
			src.Close()
		}
	}()
	specs := make([]*engine.Metric, len(set.metrics))
	errs := make([]error, len(set.metrics))
	evaluations := 0
	for i, m := range set.metrics {
		if m.Spec.Source == nil {
			continue
		}
		spec, err := metricspec.Translate(m)
		if err != nil {
			errs[i] = err
			continue
		}
		specs[i] = &spec
		evaluations += engine.ReplayEvaluations(spec, from, to)
		key := m.Namespace + "/" + m.Spec.Source.Name
		if _, seen := opened[key]; !seen && openErrs[key] == nil {
			if ds, ok := set.sources[key]; ok {
				if src, err := sources.Get(ctx, ds); err != nil {
					openErrs[key] = err
				} else {
					opened[key] = source.NewSharedHistory(src)
				}
			}
		}
		if sh, ok := opened[key].(*source.SharedHistory); ok {
			sh.Expect(spec.Definition, spec.Query)
		}
	}
	bar := newProgress(errOut, "backtest", len(set.metrics), evaluations)
	defer bar.finish()
	events := make([][]engine.ReplayEvent, len(set.metrics))
	forEach(len(set.metrics), func(i int) {
		defer bar.metricDone()
		m := set.metrics[i]
		if specs[i] == nil {
			return // no source, or a Translate error already in errs
		}
		key := m.Namespace + "/" + m.Spec.Source.Name
		switch {
		case openErrs[key] != nil:
			errs[i] = openErrs[key]
		case opened[key] == nil:
			errs[i] = fmt.Errorf("DataSource %s is not in the manifests", m.Spec.Source.Name)
		default:
			last := 0
			events[i], errs[i] = backtestMetric(ctx, set, o, m, *specs[i], opened[key], from, to, func(done, _ int) {
				bar.evaluated(done - last)
				last = done
			})
		}
	})
	report := BacktestReport{Events: []engine.ReplayEvent{}}
	for i, m := range set.metrics {
		if errs[i] != nil {
			if report.Errors == nil {
				report.Errors = map[string]string{}
			}
			report.Errors[m.Name] = errs[i].Error()
		}
		report.Events = append(report.Events, events[i]...)
	}
	for _, sc := range set.scorecards {
		evs, err := backtestScorecard(ctx, set, sc, sources, o, from, to)
		if err != nil {
			if report.Errors == nil {
				report.Errors = map[string]string{}
			}
			report.Errors["scorecard/"+sc.Name] = err.Error()
		}
		report.Events = append(report.Events, evs...)
	}
	return report
}

// backtestScorecard replays a Scorecard's decisions on its accounts
// (scorecard.Policy.Replay); its events name it as "scorecard/NAME" and
// each account as its segment.
func backtestScorecard(ctx context.Context, set *manifestSet, sc *cxv1.Scorecard, sources *metricspec.Sources, o *backtestOptions,
	from, to time.Time) ([]engine.ReplayEvent, error) {
	t, err := metricspec.TranslateScorecard(sc)
	if err != nil {
		return nil, err
	}
	members, _, err := metricspec.ScorecardMemberSources(ctx, sc, set.scorecardReader(sc, sources))
	if err != nil {
		return nil, err
	}
	p := t.Metric.Policy
	evs, err := t.Policy.Replay(ctx, members, t.Input, from, to, scorecard.ReplayOptions{Interval: t.Metric.Interval,
		ResolveAfter: o.resolveAfter, VerifyWindow: t.Metric.VerifyWindow, MaxAttempts: p.MaxAttempts, MinFreshSamples: p.MinFreshSamples})
	out := make([]engine.ReplayEvent, 0, len(evs))
	for _, e := range evs {
		key, _ := metricspec.AccountSegment(sc, e.Account)
		out = append(out, engine.ReplayEvent{Metric: "scorecard/" + sc.Name, Segment: key, Event: e.Event, At: e.At,
			EpisodeStart: e.EpisodeStart, Value: e.Score, Attempt: e.Attempt})
	}
	return out, err
}

// backtestMetric replays one Metric of the manifests through the engine
// on src, reporting its evaluations to progress.
func backtestMetric(ctx context.Context, set *manifestSet, o *backtestOptions, m *cxv1.Metric, spec engine.Metric, src source.Source,
	from, to time.Time, progress func(done, total int)) ([]engine.ReplayEvent, error) {
	opts := engine.ReplayOptions{ResolveAfter: o.resolveAfter, Progress: progress}
	// A Team absent from the manifests is not held back as the cluster
	// holds a missing Team's tasks (TeamLoad.Missing stays false): offline
	// manifests often omit Teams, so it replays as a team without a cap.
	if team, ok := set.teams[m.Namespace+"/"+m.Spec.Owner.Team]; ok {
		opts.TeamEscalation = team.Spec.EscalationTeam
		if team.Spec.Capacity != nil {
			opts.Team.Max = int(team.Spec.Capacity.MaxOpenTasks)
		}
	}
	res, err := engine.Replay(ctx, src, spec, from, to, opts)
	if res == nil {
		return nil, err
	}
	return res.Events, err
}
