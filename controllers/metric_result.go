package controllers

import (
	"context"
	"fmt"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// MetricEvaluator measures a Metric for the window ending at windowEnd and
// steps its change detector over the data that arrived since the last
// evaluation. An error wrapping errSourceUnavailable means the source could
// not be read: the caller keeps the last good value and the detector.
type MetricEvaluator interface {
	Evaluate(ctx context.Context, m *cxv1.Metric, ds *cxv1.DataSource, windowEnd time.Time) (*EvaluationResult, error)
}

// EvaluationResult is one evaluation of a Metric.
type EvaluationResult struct {
	WindowStart, WindowEnd time.Time
	// Query is the query as run, without secrets.
	Query          string
	DefinitionHash string
	Overall        SegmentOutcome
	// Segments are every measured segment, worst first.
	Segments []SegmentOutcome
	// Target is what the value was judged against.
	Target   *float64
	Baseline *cxv1.Baseline
	// Detector is the detector's new persisted state.
	Detector *cxv1.DetectorStatus
	// Episodes are the episodes open after this evaluation, by segment.
	Episodes []Episode
	// Reason and Message summarise the outcome.
	Reason, Message string
}

// SegmentOutcome is one segment's value in the window.
type SegmentOutcome struct {
	Segment             string
	Value, Lower, Upper *float64
	Samples             int64
	State               cxv1.WindowState
	Weight              *float64
}

// Episode is an open change episode of a segment.
type Episode struct {
	Segment string
	Values  map[string]string
	Start   time.Time
	// Evidence is what the detector saw.
	Evidence cxv1.TaskEvidence
	// Gap is how far the segment is on the wrong side, in units of δ.
	Gap float64
	// WeightShare is the segment's share of the metric's weight.
	WeightShare float64
	Baseline    *cxv1.TaskBaseline
	Objective   cxv1.TaskObjective
}

// applyEvaluation writes a successful evaluation into the next status.
func applyEvaluation(m *cxv1.Metric, next *cxv1.MetricStatus, res *EvaluationResult) {
	o := res.Overall
	changed := next.Value == nil || o.Value == nil || *next.Value != *o.Value || next.Samples != o.Samples ||
		next.State != o.State || next.DefinitionHash != res.DefinitionHash
	next.DefinitionHash = res.DefinitionHash
	next.State, next.Value, next.Lower, next.Upper, next.Samples = o.State, o.Value, o.Lower, o.Upper, o.Samples
	next.Target = res.Target
	next.Baseline = res.Baseline
	next.Detector = res.Detector
	next.WorstSegments = nil
	for i, s := range res.Segments {
		if i == cxv1.MaxWorstSegments {
			break
		}
		next.WorstSegments = append(next.WorstSegments, cxv1.SegmentResult{Segment: s.Segment, Value: s.Value,
			Lower: s.Lower, Upper: s.Upper, Samples: s.Samples, State: s.State, Weight: s.Weight})
	}
	next.Episode = nil
	for _, ep := range res.Episodes {
		if ep.Segment == "" {
			t := metav1.NewTime(ep.Start)
			next.Episode = &t
		}
	}
	if changed {
		next.LastEvaluation = &cxv1.Evaluation{WindowStart: metav1.NewTime(res.WindowStart), WindowEnd: metav1.NewTime(res.WindowEnd),
			Query: truncate(res.Query, 8192), Reason: res.Reason, Message: truncate(res.Message, 1024)}
		next.History = appendBounded(next.History, cxv1.HistoryPoint{WindowEnd: metav1.NewTime(res.WindowEnd), Value: o.Value,
			Lower: o.Lower, Upper: o.Upper, Samples: o.Samples, State: o.State, DefinitionHash: res.DefinitionHash}, cxv1.MaxHistory)
	}

	gen := m.Generation
	if o.State == cxv1.StateInsufficientData {
		meta.SetStatusCondition(&next.Conditions, metav1.Condition{Type: cxv1.ConditionInsufficientData, Status: metav1.ConditionTrue,
			Reason: "BelowMinSamples", ObservedGeneration: gen,
			Message: fmt.Sprintf("%d samples in the window, fewer than objective.minSamples; nothing opens, verifies or closes", o.Samples)})
	} else {
		meta.RemoveStatusCondition(&next.Conditions, cxv1.ConditionInsufficientData)
	}
	if len(res.Episodes) > 0 {
		segs := make([]string, 0, len(res.Episodes))
		for _, ep := range res.Episodes {
			segs = append(segs, segmentLabelOf(ep.Segment))
		}
		meta.SetStatusCondition(&next.Conditions, metav1.Condition{Type: cxv1.ConditionChangeDetected, Status: metav1.ConditionTrue,
			Reason: "EpisodeOpen", ObservedGeneration: gen,
			Message: truncate(fmt.Sprintf("the change detector has an open episode in %d segment(s): %v", len(segs), segs), 1024)})
	} else {
		meta.SetStatusCondition(&next.Conditions, metav1.Condition{Type: cxv1.ConditionChangeDetected, Status: metav1.ConditionFalse,
			Reason: "InControl", Message: "no change beyond the smallest shift worth a task", ObservedGeneration: gen})
	}
	setReady(next, gen, metav1.ConditionTrue, "Measured", fmt.Sprintf("measured %s: %s", res.WindowEnd.UTC().Format(time.RFC3339), o.State))
}

func segmentLabelOf(seg string) string {
	if seg == "" {
		return "(all)"
	}
	return seg
}

// announceEpisodes emits an event for each episode that started or ended.
func (r *MetricReconciler) announceEpisodes(m *cxv1.Metric, res *EvaluationResult) {
	before := map[string]bool{}
	if d := m.Status.Detector; d != nil {
		for _, s := range d.Segments {
			if s.EpisodeStart != nil {
				before[s.Segment] = true
			}
		}
	}
	now := map[string]bool{}
	for _, ep := range res.Episodes {
		now[ep.Segment] = true
		if !before[ep.Segment] {
			r.event(m, "Warning", "EpisodeStarted", "a change episode started in %s on %s", segmentLabelOf(ep.Segment), ep.Start.UTC().Format(time.RFC3339))
		}
	}
	for seg := range before {
		if !now[seg] {
			r.event(m, "Normal", "EpisodeEnded", "the change episode in %s ended", segmentLabelOf(seg))
		}
	}
}

// openTasks creates one task per open episode that has none yet, most
// urgent first within the Metric's and the Team's caps, and lists the rest
// as held back. Creation is create-only under a deterministic name, so a
// crash between detection and creation never duplicates a task.
//
// It returns the tasks to create; the caller creates them after writing the
// Metric's status, so a task never exists before the episode it answers is
// recorded on its Metric.
func (r *MetricReconciler) planTasks(ctx context.Context, m *cxv1.Metric, res *EvaluationResult, next *cxv1.MetricStatus) ([]*cxv1.ImprovementTask, error) {
	next.HeldBackTasks = nil
	if len(res.Episodes) == 0 {
		return nil, nil
	}
	var tasks cxv1.ImprovementTaskList
	if err := r.List(ctx, &tasks, client.InNamespace(m.Namespace), client.MatchingFields{indexTaskMetric: m.Name}); err != nil {
		return nil, fmt.Errorf("list tasks of metric %s: %w", m.Name, err)
	}
	existing := map[string]bool{}
	metricOpen := 0
	for _, t := range tasks.Items {
		existing[t.Name] = true
		if !isFinal(t.Status.Phase) {
			metricOpen++
		}
	}
	byName := map[string]Episode{}
	var cands []loop.Candidate
	for _, ep := range res.Episodes {
		name := loop.TaskName(m.Name, string(m.UID), ep.Segment, ep.Start)
		if existing[name] {
			continue
		}
		byName[name] = ep
		cands = append(cands, loop.Candidate{Segment: ep.Segment, EpisodeStart: ep.Start, Gap: ep.Gap, WeightShare: ep.WeightShare})
	}
	if len(cands) == 0 {
		return nil, nil
	}
	policy := metricspec.ImprovementPolicy(m)
	capacity := loop.Capacity{DryRun: policy.DryRun, MetricOpen: metricOpen, MetricMax: int(policy.MaxOpenTasks)}
	if teamOpen, teamMax, err := r.teamLoad(ctx, m); err != nil {
		return nil, err
	} else {
		capacity.TeamOpen, capacity.TeamMax = teamOpen, teamMax
	}
	open, held := loop.Select(cands, capacity)
	durations, _ := metricspec.ParseDurations(m)
	now := r.Clock.Now()
	var create []*cxv1.ImprovementTask
	for _, c := range open {
		name := loop.TaskName(m.Name, string(m.UID), c.Segment, c.EpisodeStart)
		ep := byName[name]
		due := metav1.NewTime(loop.DueDate(now, durations.DueAfter))
		task := &cxv1.ImprovementTask{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: m.Namespace,
				Labels: map[string]string{"cxloop.dev/metric": m.Name, "cxloop.dev/team": m.Spec.Owner.Team}},
			Spec: cxv1.ImprovementTaskSpec{
				Metric: m.Name, Segment: ep.Segment, SegmentValues: ep.Values, Team: m.Spec.Owner.Team,
				EpisodeStart: metav1.NewTime(ep.Start), DefinitionHash: res.DefinitionHash,
				Baseline: ep.Baseline, Objective: ep.Objective, Evidence: &ep.Evidence,
				Priority: loop.Priority(c.Gap, c.WeightShare), DueDate: &due, Playbook: policy.Playbook,
				State: cxv1.TaskOpen,
			},
		}
		create = append(create, task)
	}
	sort.SliceStable(held, func(i, j int) bool { return held[i].Segment < held[j].Segment })
	for i, h := range held {
		if i == cxv1.MaxHeldBackTasks {
			break
		}
		next.HeldBackTasks = append(next.HeldBackTasks, cxv1.HeldBackTask{Segment: h.Segment,
			EpisodeStart: metav1.NewTime(h.EpisodeStart), Reason: string(h.Reason)})
	}
	return create, nil
}

// createTasks creates planned tasks; one that exists already is left as
// it is.
func (r *MetricReconciler) createTasks(ctx context.Context, m *cxv1.Metric, tasks []*cxv1.ImprovementTask) error {
	for _, task := range tasks {
		if err := r.Create(ctx, task); err != nil {
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			return fmt.Errorf("create task %s: %w", task.Name, err)
		}
		r.event(m, "Warning", "TaskOpened", "task %s opened for team %s (segment %s)", task.Name, task.Spec.Team, segmentLabelOf(task.Spec.Segment))
	}
	return nil
}

// teamLoad counts the owning team's open tasks and reads its capacity
// (zero: no cap).
func (r *MetricReconciler) teamLoad(ctx context.Context, m *cxv1.Metric) (int, int, error) {
	var team cxv1.Team
	err := r.Get(ctx, types.NamespacedName{Namespace: m.Namespace, Name: m.Spec.Owner.Team}, &team)
	if apierrors.IsNotFound(err) || (err == nil && team.Spec.Capacity == nil) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read team %s: %w", m.Spec.Owner.Team, err)
	}
	var tasks cxv1.ImprovementTaskList
	if err := r.List(ctx, &tasks, client.InNamespace(m.Namespace), client.MatchingFields{indexTaskTeam: team.Name}); err != nil {
		return 0, 0, err
	}
	open := 0
	for _, t := range tasks.Items {
		if !isFinal(t.Status.Phase) {
			open++
		}
	}
	return open, int(team.Spec.Capacity.MaxOpenTasks), nil
}
