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
	"github.com/cxloop/cxloop/internal/source"
)

func init() { Register(newPlanCommand) }

type planOptions struct {
	files        []string
	dataRoots    []string
	at           string
	namespace    string
	failOnBreach bool
	output       string
	since        time.Duration
}

const planLong = `Measure every Metric of a directory of manifests against its source now,
offline, as the operator would: the same definitions, queries, statistics
and change detector. It prints each Metric's window state (Met, Warning,
Breached, Inconclusive, InsufficientData) per segment and the tasks the
change detector would open, warmed on the window's history.

Credentials come from Secret manifests in the same files (labelled
cxloop.dev/secret: "true", as the operator requires) or from
environment variables CXLOOP_SECRET_<SECRET>_<KEY> (upper case, dashes as
underscores), for example CXLOOP_SECRET_WAREHOUSE_CREDENTIALS_PASSWORD.
File-based sources read under --data-root.

-o json prints {"metrics":[{"namespace","name","formula","value","lower",
"upper","samples","state","target","segments":[{"segment","value","lower",
"upper","samples","state"}]}],"tasks":[{"metric","segment","episodeStart",
"reason","freshSamples","timeToVerify"}],"scorecards":[{"namespace","name",
"index","lower","upper","target","accounts","atRisk":[...],"valueAtRisk",
"error"}]}; a value below minSamples is null,
never a number. freshSamples is the fresh volume that verifies a fix which
restored the target with 80 % probability, timeToVerify the time the
observed volume takes to bring it.`

func newPlanCommand(g *Globals) *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan -f DIR|FILE [-f ...]",
		Short: "Measure manifests' Metrics offline and show what would open",
		Long:  planLong,
		Example: `  # in a pull request of a GitOps repository
  kubectl cx plan -f deploy/cxloop/ --data-root /data -o json

  # fail the build when a metric is breached
  kubectl cx plan -f deploy/cxloop/ --fail-on-breach`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(o.files) == 0 {
				return usageErrorf("plan needs at least one -f DIR|FILE")
			}
			format, err := parseOutputFormat(o.output)
			if err != nil {
				return err
			}
			report, err := runPlan(cmd.Context(), o, g.Streams.ErrOut)
			if err != nil {
				return err
			}
			if format == "table" {
				printPlanTable(g, report)
			} else if err := printStructured(g.Streams.Out, format, report); err != nil {
				return err
			}
			if o.failOnBreach && report.breached() {
				fmt.Fprintln(g.Streams.ErrOut, "plan: a metric is Breached")
				return &ReportedError{}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&o.files, "filename", "f", nil, "file or directory of manifests (repeatable)")
	cmd.Flags().StringArrayVar(&o.dataRoots, "data-root", []string{"."}, "directory SQLite and CSV sources read under (repeatable)")
	cmd.Flags().StringVar(&o.at, "at", "", "measure as of this RFC 3339 time instead of now")
	cmd.Flags().StringVar(&o.namespace, "default-namespace", "default", "namespace of manifests that name none")
	cmd.Flags().BoolVar(&o.failOnBreach, "fail-on-breach", false, "exit 1 when any Metric is Breached")
	cmd.Flags().DurationVar(&o.since, "since", 0, "history to replay through the change detector before now (default: each Metric's window)")
	addOutputFlag(cmd, &o.output)
	return cmd
}

// PlanReport is plan's JSON contract.
type PlanReport struct {
	Metrics    []PlanMetric    `json:"metrics"`
	Tasks      []PlanTask      `json:"tasks"`
	Scorecards []PlanScorecard `json:"scorecards"`
}

// PlanMetric is one Metric's measurement.
type PlanMetric struct {
	Namespace string        `json:"namespace"`
	Name      string        `json:"name"`
	Formula   string        `json:"formula"`
	Value     *float64      `json:"value"`
	Lower     *float64      `json:"lower"`
	Upper     *float64      `json:"upper"`
	Samples   int64         `json:"samples"`
	State     string        `json:"state"`
	Target    *float64      `json:"target"`
	Segments  []PlanSegment `json:"segments"`
	Error     string        `json:"error,omitempty"`
}

// PlanSegment is one segment's measurement.
type PlanSegment struct {
	Segment string   `json:"segment"`
	Value   *float64 `json:"value"`
	Lower   *float64 `json:"lower"`
	Upper   *float64 `json:"upper"`
	Samples int64    `json:"samples"`
	State   string   `json:"state"`
}

// PlanTask is a task the change detector would open.
type PlanTask struct {
	Metric       string    `json:"metric"`
	Segment      string    `json:"segment"`
	EpisodeStart time.Time `json:"episodeStart"`
	Reason       string    `json:"reason"`
	// FreshSamples is n*, the fresh volume that would verify a fix which
	// restored the target with 80 % probability (engine.PlanVerification);
	// TimeToVerify the time the observed volume takes to bring it. Both are
	// omitted when unknown.
	FreshSamples int64  `json:"freshSamples,omitempty"`
	TimeToVerify string `json:"timeToVerify,omitempty"`
}

func (r *PlanReport) breached() bool {
	for _, m := range r.Metrics {
		if m.State == string(cxv1.StateBreached) {
			return true
		}
	}
	return false
}

func runPlan(ctx context.Context, o *planOptions, errOut io.Writer) (*PlanReport, error) {
	set, err := loadManifests(ctx, o)
	if err != nil {
		return nil, err
	}
	metrics := set.metrics
	now := time.Now()
	if o.at != "" {
		if now, err = time.Parse(time.RFC3339, o.at); err != nil {
			return nil, usageErrorf("--at: %v", err)
		}
	}
	sources := &metricspec.Sources{Secrets: set.secrets, Roots: o.dataRoots}
	evaluations := 0
	if o.since > 0 {
		for _, m := range metrics {
			if spec, err := metricspec.Translate(m); err == nil && m.Spec.Source != nil && o.since > spec.Interval {
				end := spec.WindowEnd(now)
				evaluations += engine.ReplayEvaluations(spec, end.Add(-o.since), end)
			}
		}
	}
	bar := newProgress(errOut, "plan", len(metrics), evaluations)
	defer bar.finish()
	parts := make([]planPart, len(metrics))
	forEach(len(metrics), func(i int) {
		last := 0
		parts[i] = planOne(ctx, sources, set.sources, metrics[i], now, o.since, func(done, _ int) {
			bar.evaluated(done - last)
			last = done
		})
		bar.metricDone()
	})
	report := &PlanReport{Metrics: []PlanMetric{}, Tasks: []PlanTask{}}
	for _, part := range parts {
		report.Metrics = append(report.Metrics, part.metric)
		report.Tasks = append(report.Tasks, part.tasks...)
	}
	report.Scorecards = planScorecards(ctx, set, sources, now)
	return report, nil
}

// planPart is one Metric's share of a PlanReport.
type planPart struct {
	metric PlanMetric
	tasks  []PlanTask
}

// planOne measures one Metric for plan.
func planOne(ctx context.Context, sources *metricspec.Sources, dataSources map[string]*cxv1.DataSource, m *cxv1.Metric,
	now time.Time, since time.Duration, progress func(done, total int)) planPart {
	pm := PlanMetric{Namespace: m.Namespace, Name: m.Name, Formula: string(m.Spec.Formula), Segments: []PlanSegment{}}
	spec, res, err := planMetric(ctx, sources, dataSources, m, now, since, progress)
	if err != nil {
		pm.Error, pm.State = err.Error(), "Error"
		return planPart{metric: pm}
	}
	o := res.Overall
	pm.Value, pm.Lower, pm.Upper, pm.Samples, pm.State, pm.Target = o.Value, o.Lower, o.Upper, o.Samples, string(o.State), res.Target
	segs := append([]engine.Outcome(nil), res.Segments...)
	sort.Slice(segs, func(i, j int) bool { return segs[i].Segment < segs[j].Segment })
	for _, s := range segs {
		pm.Segments = append(pm.Segments, PlanSegment{Segment: s.Segment, Value: s.Value, Lower: s.Lower, Upper: s.Upper,
			Samples: s.Samples, State: string(s.State)})
	}
	part := planPart{metric: pm}
	for _, ep := range res.Episodes {
		reason := fmt.Sprintf("change detected: statistic %.3g reached threshold %.3g", ep.Evidence.Statistic, ep.Evidence.Threshold)
		if spec.Policy.DryRun {
			reason += " (dry run: the operator would not create it)"
		}
		pt := PlanTask{Metric: m.Name, Segment: ep.Segment, EpisodeStart: ep.Start.UTC(), Reason: reason}
		if p := engine.PlanVerification(spec, engine.EpisodeTask(ep), o.Samples); p.RequiredSamples > 0 {
			pt.FreshSamples = int64(p.RequiredSamples)
			if p.ExpectedDuration > 0 {
				pt.TimeToVerify = p.ExpectedDuration.String()
			}
		}
		part.tasks = append(part.tasks, pt)
	}
	return part
}

// planMetric evaluates a Metric at the latest window end before now, its
// detector warmed on the window's history or, with since, on that much
// history replayed through the engine.
func planMetric(ctx context.Context, sources *metricspec.Sources, dataSources map[string]*cxv1.DataSource, m *cxv1.Metric,
	now time.Time, since time.Duration, progress func(done, total int)) (engine.Metric, *engine.Evaluation, error) {
	spec, err := metricspec.Translate(m)
	if err != nil {
		return spec, nil, err
	}
	if m.Spec.Source == nil {
		return spec, nil, fmt.Errorf("formula %s is computed from other metrics by the operator, not by plan", m.Spec.Formula)
	}
	src, err := manifestSource(ctx, sources, dataSources, m)
	if err != nil {
		return spec, nil, err
	}
	end := spec.WindowEnd(now)
	if since <= spec.Interval {
		// One evaluation, its detector warmed on the window's history.
		res, err := engine.Evaluate(ctx, src, spec, engine.Prior{}, end)
		return spec, res, err
	}
	replay, err := engine.Replay(ctx, src, spec, end.Add(-since), end, engine.ReplayOptions{Progress: progress})
	if err != nil {
		return spec, nil, err
	}
	if replay.Last == nil {
		return spec, nil, fmt.Errorf("no evaluation in the last %s", since)
	}
	return spec, replay.Last, nil
}

func printPlanTable(g *Globals, r *PlanReport) {
	rows := [][]string{}
	for _, m := range r.Metrics {
		state := m.State
		if m.Error != "" {
			state = "Error: " + m.Error
		}
		rows = append(rows, []string{m.Namespace, m.Name, m.Formula, formatNumber(m.Value), interval(m.Lower, m.Upper),
			formatNumber(m.Target), fmt.Sprint(m.Samples), state})
		for _, s := range m.Segments {
			rows = append(rows, []string{"", "  " + s.Segment, "", formatNumber(s.Value), interval(s.Lower, s.Upper), "",
				fmt.Sprint(s.Samples), s.State})
		}
	}
	_ = printTable(g.Streams.Out, []string{"NAMESPACE", "METRIC", "FORMULA", "VALUE", "INTERVAL", "TARGET", "SAMPLES", "STATE"}, rows)
	if len(r.Tasks) > 0 {
		fmt.Fprintln(g.Streams.Out, "\nTasks that would open:")
		trows := [][]string{}
		for _, t := range r.Tasks {
			seg := t.Segment
			if seg == "" {
				seg = "(all)"
			}
			need := "-"
			if t.FreshSamples > 0 {
				need = fmt.Sprint(t.FreshSamples)
				if t.TimeToVerify != "" {
					need += " in " + t.TimeToVerify
				}
			}
			trows = append(trows, []string{t.Metric, seg, t.EpisodeStart.Format(time.RFC3339), need, t.Reason})
		}
		_ = printTable(g.Streams.Out, []string{"METRIC", "SEGMENT", "EPISODE START", "FRESH DATA TO VERIFY", "REASON"}, trows)
	}
	printPlanScorecards(g.Streams.Out, r.Scorecards)
}

func interval(lo, hi *float64) string {
	if lo == nil || hi == nil {
		return "-"
	}
	return "[" + formatNumber(lo) + ", " + formatNumber(hi) + "]"
}

// manifestSource connects the DataSource, among the manifests', that a
// Metric names.
func manifestSource(ctx context.Context, sources *metricspec.Sources, dataSources map[string]*cxv1.DataSource,
	m *cxv1.Metric) (source.Source, error) {
	if m.Spec.Source == nil {
		return nil, fmt.Errorf("Metric %s names no DataSource", m.Name)
	}
	ds, ok := dataSources[m.Namespace+"/"+m.Spec.Source.Name]
	if !ok {
		return nil, fmt.Errorf("DataSource %s is not in the manifests", m.Spec.Source.Name)
	}
	return sources.Get(ctx, ds)
}
