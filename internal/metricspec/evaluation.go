package metricspec

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/display"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/redact"
)

// maxQuery is the longest query text status keeps.
const maxQuery = 8192

// ApplyEvaluation writes a successful evaluation of spec into a Metric's
// next status: value and its display, detector, worst segments, held-back
// tasks, history and the conditions that describe the data
// (InsufficientData, ChangeDetected).
func ApplyEvaluation(next *cxv1.MetricStatus, spec *cxv1.MetricSpec, gen int64, res *engine.Evaluation, held []loop.Held) {
	o := res.Overall
	changed := next.Value == nil || o.Value == nil || *next.Value != *o.Value || next.Samples != o.Samples ||
		next.State != cxv1.WindowState(o.State) || next.DefinitionHash != res.DefinitionHash
	next.DefinitionHash = res.DefinitionHash
	next.State, next.Value, next.Lower, next.Upper, next.Samples = cxv1.WindowState(o.State), o.Value, o.Lower, o.Upper, o.Samples
	next.Target = res.Target
	next.Display = Display(spec, next)
	next.Baseline = BaselineStatus(res.Baseline)
	next.SegmentBaselines, next.EncodedSegmentBaselines = SegmentBaselinesStatus(res.SegmentBaselines, res.Detector)
	next.Detector = DetectorStatus(res.Detector)
	next.WorstSegments = nil
	for i, s := range res.Segments {
		if i == cxv1.MaxWorstSegments {
			break
		}
		next.WorstSegments = append(next.WorstSegments, cxv1.SegmentResult{Segment: s.Segment, Value: s.Value,
			Lower: s.Lower, Upper: s.Upper, Samples: s.Samples, State: cxv1.WindowState(s.State), Weight: s.Weight})
	}
	next.Episode = nil
	for _, ep := range res.Episodes {
		if ep.Segment == "" {
			t := metav1.NewTime(ep.Start)
			next.Episode = &t
		}
	}
	next.HeldBackTasks = nil
	for i, h := range held {
		if i == cxv1.MaxHeldBackTasks {
			break
		}
		next.HeldBackTasks = append(next.HeldBackTasks, cxv1.HeldBackTask{Segment: h.Segment,
			EpisodeStart: metav1.NewTime(h.EpisodeStart), Reason: string(h.Reason)})
	}
	if changed {
		next.LastEvaluation = &cxv1.Evaluation{WindowStart: metav1.NewTime(res.WindowStart), WindowEnd: metav1.NewTime(res.WindowEnd),
			Query: redact.Cut(res.Query, maxQuery), Reason: res.Reason, Message: redact.Cut(res.Message, maxMessage)}
		next.History = AppendBounded(next.History, cxv1.HistoryPoint{WindowEnd: metav1.NewTime(res.WindowEnd), Value: o.Value,
			Lower: o.Lower, Upper: o.Upper, Samples: o.Samples, State: cxv1.WindowState(o.State), DefinitionHash: res.DefinitionHash}, cxv1.MaxHistory)
	}
	if o.State == "InsufficientData" {
		meta.SetStatusCondition(&next.Conditions, metav1.Condition{Type: cxv1.ConditionInsufficientData, Status: metav1.ConditionTrue,
			Reason: "BelowMinSamples", ObservedGeneration: gen,
			Message: fmt.Sprintf("%d samples in the window, fewer than objective.minSamples; nothing opens, verifies or closes", o.Samples)})
	} else {
		meta.RemoveStatusCondition(&next.Conditions, cxv1.ConditionInsufficientData)
	}
	if len(res.Episodes) > 0 {
		segs := make([]string, 0, len(res.Episodes))
		for _, ep := range res.Episodes {
			segs = append(segs, SegmentLabel(ep.Segment))
		}
		meta.SetStatusCondition(&next.Conditions, metav1.Condition{Type: cxv1.ConditionChangeDetected, Status: metav1.ConditionTrue,
			Reason: "EpisodeOpen", ObservedGeneration: gen,
			Message: redact.Cut(fmt.Sprintf("the change detector has an open episode in %d segment(s): %v", len(segs), segs), maxMessage)})
	} else {
		meta.SetStatusCondition(&next.Conditions, metav1.Condition{Type: cxv1.ConditionChangeDetected, Status: metav1.ConditionFalse,
			Reason: "InControl", Message: "no change beyond the smallest shift worth a task", ObservedGeneration: gen})
	}
}

// SegmentLabel names a segment for people: its key, "(all)" for the whole
// population.
func SegmentLabel(seg string) string {
	if seg == "" {
		return "(all)"
	}
	return seg
}

// Quantity is what spec's numbers measure, for display.
func Quantity(spec *cxv1.MetricSpec) display.Quantity {
	return display.Quantity{Formula: string(spec.Formula), Unit: spec.Unit}
}

// Display is status's value and target as kubectl get shows them; nil
// while there is neither.
func Display(spec *cxv1.MetricSpec, status *cxv1.MetricStatus) *cxv1.MetricDisplay {
	q := Quantity(spec)
	d := &cxv1.MetricDisplay{Value: q.WithInterval(status.Value, status.Lower, status.Upper),
		Target: q.Target(string(spec.Objective.Direction), status.Target)}
	if d.Value == "" && d.Target == "" {
		return nil
	}
	return d
}
