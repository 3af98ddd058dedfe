package metricspec

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
)

// PriorOf reads what a Metric's last evaluation left in its status.
func PriorOf(st *cxv1.MetricStatus) engine.Prior {
	p := engine.Prior{DefinitionHash: st.DefinitionHash, Samples: st.Samples, Detector: DetectorOf(st.Detector)}
	if b := st.Baseline; b != nil {
		p.Baseline = &engine.Baseline{WindowStart: b.WindowStart.Time, WindowEnd: b.WindowEnd.Time, Value: b.Value,
			Lower: b.Lower, Upper: b.Upper, Samples: b.Samples}
	}
	return p
}

// DetectorOf reads a persisted detector.
func DetectorOf(d *cxv1.DetectorStatus) *engine.Detector {
	if d == nil {
		return nil
	}
	out := &engine.Detector{FedUntil: timeOf(d.FedUntil), Threshold: d.Threshold, SegmentsMonitored: d.SegmentsMonitored,
		DetectableShift: d.DetectableShift, DetectionHorizon: d.DetectionHorizon, ExpectedDelay: d.ExpectedDelay}
	for _, s := range d.Segments {
		out.Segments = append(out.Segments, engine.SegmentState{Segment: s.Segment, Statistic: s.Statistic, Samples: s.Samples,
			Since: timeOf(s.Since), EpisodeStart: timeOf(s.EpisodeStart), Recovery: s.Recovery, RecoverySince: timeOf(s.RecoverySince)})
	}
	return out
}

// DetectorStatus renders a detector for status.
func DetectorStatus(d *engine.Detector) *cxv1.DetectorStatus {
	if d == nil {
		return nil
	}
	out := &cxv1.DetectorStatus{FedUntil: TimeRef(d.FedUntil), Threshold: d.Threshold, SegmentsMonitored: d.SegmentsMonitored,
		DetectableShift: d.DetectableShift, DetectionHorizon: d.DetectionHorizon, ExpectedDelay: d.ExpectedDelay}
	for _, s := range d.Segments {
		out.Segments = append(out.Segments, cxv1.DetectorSegment{Segment: s.Segment, Statistic: s.Statistic, Samples: s.Samples,
			Since: TimeRef(s.Since), EpisodeStart: TimeRef(s.EpisodeStart), Recovery: s.Recovery, RecoverySince: TimeRef(s.RecoverySince)})
	}
	return out
}

// BaselineStatus renders a frozen baseline for status.
func BaselineStatus(b *engine.Baseline) *cxv1.Baseline {
	if b == nil {
		return nil
	}
	return &cxv1.Baseline{WindowStart: metav1.NewTime(b.WindowStart), WindowEnd: metav1.NewTime(b.WindowEnd), Value: b.Value,
		Lower: b.Lower, Upper: b.Upper, Samples: b.Samples}
}

// TaskOf reads what verification needs of a task.
func TaskOf(t *cxv1.ImprovementTask) engine.Task {
	s := &t.Spec
	out := engine.Task{Segment: s.Segment, SegmentValues: s.SegmentValues, EpisodeStart: s.EpisodeStart.Time,
		Objective: engine.TaskObjective{Direction: engine.Direction(s.Objective.Direction), Target: s.Objective.Target,
			MinShift: s.Objective.MinShift}}
	if s.Evidence != nil {
		out.ObservedValue = s.Evidence.ObservedValue
	}
	return out
}

// TaskObject is the ImprovementTask to create for a planned task.
func TaskObject(m engine.Metric, nt engine.NewTask) *cxv1.ImprovementTask {
	ep := nt.Episode
	due := metav1.NewTime(nt.DueDate)
	t := &cxv1.ImprovementTask{
		ObjectMeta: metav1.ObjectMeta{Name: nt.Name, Namespace: m.Namespace,
			Labels: map[string]string{"cxloop.dev/metric": m.Name, "cxloop.dev/team": m.Team}},
		Spec: cxv1.ImprovementTaskSpec{
			Metric: m.Name, Segment: ep.Segment, SegmentValues: ep.Values, Team: m.Team,
			EpisodeStart: metav1.NewTime(ep.Start), DefinitionHash: m.Hash,
			Objective: cxv1.TaskObjective{Direction: cxv1.Direction(ep.Objective.Direction), Target: ep.Objective.Target,
				MinShift: ep.Objective.MinShift},
			Evidence: &cxv1.TaskEvidence{Statistic: ep.Evidence.Statistic, Threshold: ep.Evidence.Threshold,
				Samples: ep.Evidence.Samples, ObservedValue: ep.Evidence.ObservedValue},
			Priority: nt.Priority, DueDate: &due, Playbook: m.Policy.Playbook, State: cxv1.TaskOpen,
		},
	}
	if b := ep.Baseline; b != nil {
		t.Spec.Baseline = &cxv1.TaskBaseline{Value: b.Value, Lower: b.Lower, Upper: b.Upper, Samples: b.Samples,
			WindowStart: metav1.NewTime(b.WindowStart), WindowEnd: metav1.NewTime(b.WindowEnd)}
	}
	return t
}

// MeasurementStatus renders a look at a task's fresh data.
func MeasurementStatus(m *engine.Measurement) *cxv1.TaskMeasurement {
	if m == nil {
		return nil
	}
	return &cxv1.TaskMeasurement{Time: metav1.NewTime(m.Time), Samples: m.Samples, Value: m.Value, Lower: m.Lower, Upper: m.Upper}
}

// TimeRef is a status time, nil for the zero time.
func TimeRef(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t)
	return &mt
}

func timeOf(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time.UTC()
}
