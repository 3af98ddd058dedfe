package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Baseline is a frozen reference window: the latest window of
// baselineWindow judged in control when it was measured. A window in which
// the change detector held an episode open, for the segment or for the
// whole population, is passed over for the one before it, so windowEnd
// says whether the baseline was taken earlier than the window before the
// first evaluation.
type Baseline struct {
	// windowStart is the inclusive start of the baseline window.
	WindowStart metav1.Time `json:"windowStart"`
	// windowEnd is the exclusive end of the baseline window.
	WindowEnd metav1.Time `json:"windowEnd"`
	// value of the baseline window.
	Value float64 `json:"value"`
	// lower bound of the confidence interval.
	Lower float64 `json:"lower"`
	// upper bound of the confidence interval.
	Upper float64 `json:"upper"`
	// samples behind the value.
	Samples int64 `json:"samples"`
}

// SegmentBaseline is one segment's frozen baseline, rounded to six
// significant digits: the segment's detector reference is its value moved
// by the objective's maxChange.
type SegmentBaseline struct {
	// segment key: column=value pairs sorted by column, joined by commas.
	Segment  string `json:"segment"`
	Baseline `json:",inline"`
}
