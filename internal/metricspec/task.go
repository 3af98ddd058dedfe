package metricspec

import (
	"math"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/redact"
)

// maxMessage is the longest status message kept, as the API bounds it.
const maxMessage = 1024

// recordMeasurement keeps one measurement per evaluation window: the
// fresh data is read up to the window's aligned end, so every reconcile
// within one window measures the same thing and replaces the entry rather
// than adding another. Appending on each reconcile would write status on
// every reconcile, each write would trigger the next reconcile, and the
// bounded history would fill with copies of one window.
func RecordMeasurement(list []cxv1.TaskMeasurement, m cxv1.TaskMeasurement) []cxv1.TaskMeasurement {
	if n := len(list); n > 0 && list[n-1].Time.Equal(&m.Time) {
		out := append([]cxv1.TaskMeasurement(nil), list...)
		out[n-1] = m
		return out
	}
	return AppendBounded(list, m, cxv1.MaxHistory)
}

// AppendBounded appends item and keeps the last max entries.
func AppendBounded[T any](list []T, item T, max int) []T {
	list = append(list, item)
	if len(list) > max {
		list = append([]T(nil), list[len(list)-max:]...)
	}
	return list
}

// OwnerOf reads the owner's word on a task for the state machine.
func OwnerOf(t *cxv1.ImprovementTask) loop.Owner {
	o := loop.Owner{State: loop.OwnerState(t.Spec.State)}
	if o.State == "" {
		o.State = loop.OwnerOpen
	}
	if t.Spec.Resolution != nil {
		o.ResolutionAttempt = t.Spec.Resolution.Attempt
	}
	return o
}

// LoopStatus reads a task's status for the state machine.
func LoopStatus(t *cxv1.ImprovementTask) loop.Status {
	st := &t.Status
	s := loop.Status{
		Phase: loop.Phase(st.Phase), Attempt: st.Attempt, Reason: st.Reason, Message: st.Message,
		Escalated: meta.IsStatusConditionTrue(st.Conditions, cxv1.ConditionEscalated),
	}
	if st.ResolvedAt != nil {
		x := st.ResolvedAt.Time
		s.ResolvedAt = &x
	}
	if st.ClosedAt != nil {
		x := st.ClosedAt.Time
		s.ClosedAt = &x
	}
	if v := st.Verification; v != nil {
		s.Improvement = &loop.Improvement{Value: v.Improvement, Lower: v.Lower, Upper: v.Upper, Samples: v.Samples, Level: v.Level}
	}
	return s
}

// ApplyLoopStatus writes the state machine's status into a task's status.
func ApplyLoopStatus(st *cxv1.ImprovementTaskStatus, s loop.Status, generation int64) {
	st.ObservedGeneration = generation
	st.Phase, st.Attempt, st.Reason, st.Message = cxv1.TaskPhase(s.Phase), s.Attempt, s.Reason, redact.Cut(s.Message, maxMessage)
	st.ResolvedAt, st.ClosedAt = timePtr(s.ResolvedAt), timePtr(s.ClosedAt)
	st.Verification = nil
	if imp := s.Improvement; imp != nil {
		st.Verification = &cxv1.Verification{Improvement: imp.Value, Lower: imp.Lower, Upper: imp.Upper, Samples: imp.Samples, Level: imp.Level}
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: cxv1.ConditionReady, Status: metav1.ConditionTrue,
		Reason: string(s.Phase), Message: "the task is tracked", ObservedGeneration: generation})
}

func timePtr(t *time.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	mt := metav1.NewTime(*t)
	return &mt
}

// ApplyVerificationPlan records in a task's status what verifying its
// attempt needs (engine.PlanVerification), for the attempt the state
// machine left it at; a closed task keeps the plan it closed with.
// windowSamples is the Metric's latest window's volume, and detector the
// Metric's detector, whose calibration prices the mood into the fresh
// volume the attempt needs, as verification discounts for it.
func ApplyVerificationPlan(st *cxv1.ImprovementTaskStatus, m engine.Metric, task *cxv1.ImprovementTask, attempt int32, windowSamples int64, detector *engine.Detector) {
	if loop.Phase(st.Phase).Final() {
		return
	}
	t := TaskOf(task).WithCalibration(detector)
	t.Attempt = attempt
	p := engine.PlanVerification(m, t, windowSamples)
	plan := &cxv1.VerificationPlan{Null: engine.Round(p.Null), Level: engine.Round(p.Level)}
	if p.RequiredSamples > 0 && p.RequiredSamples < math.MaxInt64 {
		n := int64(p.RequiredSamples)
		plan.RequiredSamples = &n
	}
	if p.ExpectedDuration > 0 {
		plan.ExpectedDuration = &metav1.Duration{Duration: p.ExpectedDuration}
	}
	st.VerificationPlan = plan
}
