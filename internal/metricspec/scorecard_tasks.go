package metricspec

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/scorecard"
	"github.com/cxloop/cxloop/internal/source"
)

// LabelScorecard labels a Scorecard's tasks with its name, as LabelMetric
// does a Metric's.
const LabelScorecard = "cxloop.dev/scorecard"

// ScorecardTasks is a Scorecard as its task decisions need it.
type ScorecardTasks struct {
	// Metric carries the Scorecard's name, owner, durations, objective
	// and improvement policy in the engine's shape, so its tasks are
	// planned, named, scheduled, escalated and retained as a Metric's are.
	Metric engine.Metric
	// Policy decides on the accounts' windows.
	Policy scorecard.Policy
	// Input holds the objective every window is scored against.
	Input scorecard.Input
}

// TranslateScorecard turns a Scorecard into its task decisions' input.
// Like Translate it needs the CRD schema's defaults applied.
func TranslateScorecard(sc *cxv1.Scorecard) (ScorecardTasks, error) {
	s := &sc.Spec
	o := s.Objective
	imp := s.Improvement
	if imp == nil {
		return ScorecardTasks{}, fmt.Errorf("spec.improvement: %w", errNotDefaulted)
	}
	m := engine.Metric{Namespace: sc.Namespace, Name: sc.Name, UID: string(sc.UID), Team: s.Owner.Team, Hash: ScorecardHash(sc),
		Location: time.UTC}
	d := &m.Durations
	if err := parseDurations([]durationField{
		{"spec.objective.window", o.Window, &d.Window},
		{"spec.interval", s.Interval, &d.Interval},
		{"spec.improvement.verifyWindow", imp.VerifyWindow, &d.VerifyWindow},
		{"spec.improvement.dueAfter", imp.DueAfter, &d.DueAfter},
		{"spec.improvement.retention", imp.Retention, &d.Retention},
	}); err != nil {
		return ScorecardTasks{}, err
	}
	switch {
	case d.Window <= 0 || d.Interval <= 0 || d.VerifyWindow <= 0:
		return ScorecardTasks{}, fmt.Errorf("spec.objective.window, spec.interval and spec.improvement.verifyWindow must be positive")
	case !(o.MinShift > 0):
		return ScorecardTasks{}, fmt.Errorf("spec.objective.minShift: %w", errNotDefaulted)
	case !(o.FalseTaskBudget > 0):
		return ScorecardTasks{}, fmt.Errorf("spec.objective.falseTaskBudget: %w", errNotDefaulted)
	case imp.MinFreshSamples <= 0 || imp.MaxAttempts <= 0 || imp.MaxOpenTasks <= 0:
		return ScorecardTasks{}, fmt.Errorf("spec.improvement (minFreshSamples, maxAttempts, maxOpenTasks): %w", errNotDefaulted)
	}
	target := o.Target
	m.Objective = engine.Objective{Direction: engine.AtLeast, Target: &target, Confidence: ScorecardConfidence(sc),
		MinShift: o.MinShift, Budget: o.FalseTaskBudget / 100}
	m.Policy = engine.Policy{DryRun: imp.DryRun, MinFreshSamples: imp.MinFreshSamples, MaxAttempts: imp.MaxAttempts,
		MaxOpenTasks: imp.MaxOpenTasks, EscalationTeam: imp.EscalationTeam, Playbook: imp.Playbook}
	in := scorecard.Input{Target: target, Confidence: ScorecardConfidence(sc), MinCoverage: DefaultMinCoverage}
	if c := o.MinCoverage; c != nil {
		in.MinCoverage = *c
	}
	return ScorecardTasks{Metric: m, Input: in,
		Policy: scorecard.Policy{Target: target, Shift: o.MinShift, Budget: m.Objective.Budget, Window: d.Window, Location: time.UTC}}, nil
}

// ScorecardHash is the hash of what a Scorecard's score means: its key,
// members (their Metrics, columns, weights, scales and personas) and
// target. A task opened under one hash is cancelled when it changes, as a
// Metric's is when its definition does.
func ScorecardHash(sc *cxv1.Scorecard) string {
	b, _ := json.Marshal(struct {
		Key     string                 `json:"key"`
		Members []cxv1.ScorecardMember `json:"members"`
		Target  float64                `json:"target"`
		Shift   float64                `json:"minShift"`
	}{sc.Spec.Key, sc.Spec.Members, sc.Spec.Objective.Target, sc.Spec.Objective.MinShift})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// AccountSegment is the segment key and values of a Scorecard's account.
func AccountSegment(sc *cxv1.Scorecard, account string) (string, map[string]string) {
	values := map[string]string{sc.Spec.Key: account}
	return source.SegmentKey(values), values
}

// ScorecardEpisodes are the detector's open episodes as the engine plans
// tasks for them: one segment per account.
func ScorecardEpisodes(sc *cxv1.Scorecard, t ScorecardTasks, det scorecard.Detector) []engine.Episode {
	p := t.Policy
	out := make([]engine.Episode, 0, len(det.Episodes))
	for _, e := range det.Episodes {
		key, values := AccountSegment(sc, e.Account)
		score := e.Score
		out = append(out, engine.Episode{Segment: key, Values: values, Start: e.Start, WeightShare: 1,
			Gap:       (p.Target - score) / p.Shift,
			Evidence:  engine.Evidence{Statistic: score, Threshold: engine.Round(p.Target - p.Shift/2), Samples: float64(e.Samples), ObservedValue: &score},
			Objective: engine.TaskObjective{Direction: engine.AtLeast, Target: p.Target, MinShift: p.Shift}})
	}
	return out
}

// ScorecardTaskObject is the task for a Scorecard's planned episode: a
// Metric's task in every field but its origin. Its baseline is the
// latest breaching window, which ended at fedUntil: the score, its
// interval at the Scorecard's confidence (the windows' common spread
// included) and its samples.
func ScorecardTaskObject(t ScorecardTasks, nt engine.NewTask, ep scorecard.Episode, fedUntil time.Time) *cxv1.ImprovementTask {
	task := TaskObject(t.Metric, nt)
	task.Spec.Metric, task.Spec.Scorecard = "", t.Metric.Name
	delete(task.Labels, LabelMetric)
	task.Labels[LabelScorecard] = LabelValue(t.Metric.Name)
	z := zOf(t.Input.Confidence)
	task.Spec.Baseline = &cxv1.TaskBaseline{Value: ep.Score, Lower: engine.Round(ep.Score - z*ep.StdErr),
		Upper: engine.Round(ep.Score + z*ep.StdErr), Samples: ep.Samples,
		WindowStart: metav1.NewTime(engine.AddWall(fedUntil, -t.Policy.Window, t.Policy.Location)), WindowEnd: metav1.NewTime(fedUntil)}
	return task
}

// ScorecardTaskEpisode reads back the episode a Scorecard's task was
// opened for, from its facts.
func ScorecardTaskEpisode(t ScorecardTasks, task *cxv1.ImprovementTask, account string) scorecard.Episode {
	ep := scorecard.Episode{Account: account, Start: task.Spec.EpisodeStart.Time.UTC()}
	if b := task.Spec.Baseline; b != nil {
		ep.Score, ep.Samples = b.Value, b.Samples
		ep.StdErr = math.Max(0, b.Upper-b.Lower) / (2 * zOf(t.Input.Confidence))
	}
	if e := task.Spec.Evidence; e != nil && e.ObservedValue != nil {
		ep.Score = *e.ObservedValue
	}
	return ep
}

// zOf is the two-sided normal quantile of a confidence.
func zOf(confidence float64) float64 {
	if !(confidence > 0 && confidence < 1) {
		confidence = DefaultScorecardConfidence
	}
	return math.Sqrt2 * math.Erfinv(confidence)
}

// ScorecardDetectorOf reads a Scorecard's decision state from its status.
func ScorecardDetectorOf(st *cxv1.ScorecardDetector) scorecard.Detector {
	var d scorecard.Detector
	if st == nil {
		return d
	}
	d.FedUntil = timeOf(st.FedUntil)
	d.Medians = append([]float64(nil), st.Medians...)
	for _, e := range st.Episodes {
		d.Episodes = append(d.Episodes, scorecard.Episode{Account: e.Account, Start: e.Start.Time.UTC(), Score: e.Score,
			StdErr: e.StdErr, Samples: e.Samples})
	}
	return d
}

// ScorecardDetectorStatus renders a decision state for status: at most
// MaxScorecardEpisodes episodes, the worst scores kept.
func ScorecardDetectorStatus(d scorecard.Detector) *cxv1.ScorecardDetector {
	st := &cxv1.ScorecardDetector{FedUntil: TimeRef(d.FedUntil), Medians: append([]float64(nil), d.Medians...)}
	eps := d.Episodes
	if len(eps) > cxv1.MaxScorecardEpisodes {
		eps = worstEpisodes(eps, cxv1.MaxScorecardEpisodes)
	}
	for _, e := range eps {
		st.Episodes = append(st.Episodes, cxv1.ScorecardEpisode{Account: e.Account, Start: metav1.NewTime(e.Start),
			Score: finiteOr0(e.Score), StdErr: finiteOr0(e.StdErr), Samples: e.Samples})
	}
	return st
}

// worstEpisodes keeps the n lowest scores, in account order.
func worstEpisodes(eps []scorecard.Episode, n int) []scorecard.Episode {
	byScore := slices.Clone(eps)
	slices.SortFunc(byScore, func(a, b scorecard.Episode) int {
		return cmp.Or(cmp.Compare(a.Score, b.Score), strings.Compare(a.Account, b.Account))
	})
	byScore = byScore[:n]
	slices.SortFunc(byScore, func(a, b scorecard.Episode) int { return strings.Compare(a.Account, b.Account) })
	return byScore
}

func finiteOr0(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}
