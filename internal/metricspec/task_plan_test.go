package metricspec

import (
	"math"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/measure"
)

// A task's status states what verifying its current attempt needs, read
// from its facts: the recorded window's spread and volume, and the
// attempt the state machine left it at.
func TestApplyVerificationPlanStatesTheAttemptsNeeds(t *testing.T) {
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	def := measure.Definition{Formula: measure.FormulaNPS, Source: "answers"}
	m := engine.Metric{Definition: def, Durations: engine.Durations{Window: 30 * 24 * time.Hour, VerifyWindow: 14 * 24 * time.Hour, Interval: 24 * time.Hour},
		Objective: engine.Objective{Confidence: 0.95}, Policy: engine.Policy{MinFreshSamples: 30}}
	se := math.Sqrt(5100.0 / 2000)
	task := &cxv1.ImprovementTask{Spec: cxv1.ImprovementTaskSpec{EpisodeStart: metav1.NewTime(start),
		Objective: cxv1.TaskObjective{Direction: cxv1.Direction("AtLeast"), Target: 30, MinShift: 5},
		Baseline: &cxv1.TaskBaseline{Value: 30, Lower: 30 - 1.959964*se, Upper: 30 + 1.959964*se, Samples: 2000,
			WindowStart: metav1.NewTime(start.Add(-30 * 24 * time.Hour)), WindowEnd: metav1.NewTime(start)}},
		Status: cxv1.ImprovementTaskStatus{Phase: cxv1.TaskPhase("Open"), Attempt: 1}}
	ApplyVerificationPlan(&task.Status, m, task, 1, 0, nil)
	first := task.Status.VerificationPlan
	if first == nil || first.Null != 27.5 || first.RequiredSamples == nil || *first.RequiredSamples < 7400 || *first.RequiredSamples > 7520 ||
		first.ExpectedDuration == nil || math.Abs(first.ExpectedDuration.Hours()/24-float64(*first.RequiredSamples)/(2000.0/30)) > 1 {
		t.Fatalf("first attempt's plan %+v", first)
	}
	ApplyVerificationPlan(&task.Status, m, task, 2, 0, nil)
	second := task.Status.VerificationPlan
	if !(second.Level < first.Level) || !(*second.RequiredSamples > *first.RequiredSamples) {
		t.Fatalf("second attempt's plan %+v after %+v", second, first)
	}
	// The metric's calibration reaches the plan: a mood makes each fresh
	// answer worth less, so verifying needs more of them.
	moody := &engine.Detector{Calibration: &engine.Calibration{Sigma: 71.4, Dispersion: 28, DispersionError: 5}}
	ApplyVerificationPlan(&task.Status, m, task, 1, 0, moody)
	if withMood := task.Status.VerificationPlan; withMood.RequiredSamples == nil || !(*withMood.RequiredSamples > *first.RequiredSamples) {
		t.Fatalf("plan under a mood needs %d, want more than the %d of independent answers", *withMood.RequiredSamples, *first.RequiredSamples)
	}
	ApplyVerificationPlan(&task.Status, m, task, 2, 0, nil)
	second = task.Status.VerificationPlan
	task.Status.Phase = cxv1.TaskPhase("Verified")
	ApplyVerificationPlan(&task.Status, m, task, 3, 0, nil)
	if task.Status.VerificationPlan != second {
		t.Fatal("a closed task's plan changed")
	}
}
