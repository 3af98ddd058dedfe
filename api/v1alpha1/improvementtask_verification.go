package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TaskMeasurement is one look at fresh data.
type TaskMeasurement struct {
	// time of the look.
	Time metav1.Time `json:"time"`
	// value of the data since the resolution.
	// +optional
	Value *float64 `json:"value,omitempty"`
	// lower bound of the always-valid interval.
	// +optional
	Lower *float64 `json:"lower,omitempty"`
	// upper bound of the always-valid interval.
	// +optional
	Upper *float64 `json:"upper,omitempty"`
	// samples since the resolution.
	Samples int64 `json:"samples"`
}

// Verification is the evidence that a fix worked.
type Verification struct {
	// improvement over the level before the episode (the metric's window
	// before the episode's start, else the target), in the metric's units,
	// positive when better: about zero for a fix that put the metric back
	// where it was, negative while it is still below that.
	Improvement float64 `json:"improvement"`
	// lower bound of the improvement's interval at 1 − level, which counts
	// the errors of both the fresh data and the level before the episode.
	Lower float64 `json:"lower"`
	// upper bound of the improvement's interval.
	Upper float64 `json:"upper"`
	// samples of fresh data behind the proof.
	Samples int64 `json:"samples"`
	// level of the test, such as 0.05.
	Level float64 `json:"level"`
}

// VerificationPlan is what verifying a task's current attempt needs.
type VerificationPlan struct {
	// null is the level the fresh data must be proven to have left: the
	// change detector's reference, target − minShift/2 (target + minShift/2
	// for AtMost), or the level the episode was opened on where that lies on
	// the good side of it. The detector opens tasks on drops from
	// minShift/2, so a fix that changed nothing is verified with probability
	// at most level whatever the depth of the drop.
	Null float64 `json:"null"`
	// level is the current attempt's share of the task's error level of
	// 0.05: attempt j may spend 0.05·6/(π²·j²) (0.030 for the first, 0.0076
	// for the second), so over all its attempts, escalated ones included, a
	// task verifies a fix that did nothing at most 5 % of the time. Half of
	// it goes to the always-valid looks at each evaluation, half to the
	// final look at the end of the verify window.
	Level float64 `json:"level"`
	// requiredSamples (n*) is the fresh volume, in the metric's units
	// (responses, tickets), that verifies a fix which put the metric back at
	// its target with 80 % probability at level: for NPS with 45 %
	// promoters, 15 % detractors and minShift 5, about 7,500 responses for
	// the first attempt. Fewer fresh units than this make a real fix likely
	// to end NotProven. Absent when the metric's spread is unknown (a mean
	// on an open scale without a recorded baseline).
	// +optional
	RequiredSamples *int64 `json:"requiredSamples,omitempty"`
	// expectedDuration is how long the metric's observed volume (the
	// baseline window's, else the latest window's) takes to bring
	// requiredSamples fresh units, such as "2688h0m0s". Longer than the
	// verify window means a real fix will likely not be proven in time:
	// lengthen the window, pool segments or widen minShift.
	// +optional
	ExpectedDuration *metav1.Duration `json:"expectedDuration,omitempty"`
}
