package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaxTaskDrivers bounds the drivers a task carries.
const MaxTaskDrivers = 3

// DriverAnalysis names the operational Metrics that may move an outcome,
// and how to compare them with it.
type DriverAnalysis struct {
	// keyColumn is the outcome's column the drivers are compared across,
	// typically the account: each key's outcome value is paired with each
	// driver's value for the same key.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`
	// +kubebuilder:validation:MaxLength=127
	KeyColumn string `json:"keyColumn"`

	// metrics are the candidate drivers: Metrics, in this namespace,
	// measured from a DataSource, each with its own column for the key.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +listType=map
	// +listMapKey=metric
	Metrics []DriverMetric `json:"metrics"`

	// maxLag is the longest lead, in intervals of the outcome, at which a
	// driver's history is compared with the outcome's. Default 4.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=12
	// +optional
	MaxLag *int32 `json:"maxLag,omitempty"`
}

// DriverMetric is one candidate driver.
type DriverMetric struct {
	// metric is the name of the driver Metric.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Metric string `json:"metric"`
	// keyColumn is the driver's column holding the key's value.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`
	// +kubebuilder:validation:MaxLength=127
	KeyColumn string `json:"keyColumn"`
}

// DriversStatus is the latest driver analysis of an outcome. Association
// is not causation: a driver that moves with the outcome across segments
// may share a cause with it, and the number of segments says how much
// evidence stands behind each estimate.
type DriversStatus struct {
	// windowEnd is the end of the outcome's window the associations were
	// measured on.
	WindowEnd metav1.Time `json:"windowEnd"`
	// associations, strongest first: supported ones (their Spearman
	// interval excludes 0) before the rest, then by the size of Spearman's
	// correlation.
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Associations []DriverAssociation `json:"associations,omitempty"`
}

// DriverAssociation is one driver's association with the outcome.
type DriverAssociation struct {
	// metric is the driver.
	Metric string `json:"metric"`
	// segments is how many keys had a value of both the driver and the
	// outcome; fewer than 10 give no estimate.
	Segments int32 `json:"segments"`
	// spearman is the rank correlation across the segments, -1 to 1.
	// +optional
	Spearman *float64 `json:"spearman,omitempty"`
	// spearmanLower bounds its confidence interval from below.
	// +optional
	SpearmanLower *float64 `json:"spearmanLower,omitempty"`
	// spearmanUpper bounds its confidence interval from above.
	// +optional
	SpearmanUpper *float64 `json:"spearmanUpper,omitempty"`
	// pearson is the linear correlation across the segments, -1 to 1.
	// +optional
	Pearson *float64 `json:"pearson,omitempty"`
	// pearsonLower bounds its confidence interval from below.
	// +optional
	PearsonLower *float64 `json:"pearsonLower,omitempty"`
	// pearsonUpper bounds its confidence interval from above.
	// +optional
	PearsonUpper *float64 `json:"pearsonUpper,omitempty"`
	// supported is true when the Spearman interval excludes 0.
	// +optional
	Supported bool `json:"supported,omitempty"`
	// lag is the lead, in intervals, at which the driver's history
	// correlates most with the outcome's.
	// +optional
	Lag int32 `json:"lag,omitempty"`
	// lagCorrelation is that correlation, over lagIntervals pairs of
	// intervals; absent without enough history.
	// +optional
	LagCorrelation *float64 `json:"lagCorrelation,omitempty"`
	// lagIntervals is how many pairs of intervals lagCorrelation rests on.
	// +optional
	LagIntervals int32 `json:"lagIntervals,omitempty"`
}

// TaskDriver is a driver of the task's outcome, as it stood in the task's
// segment when the task opened: where to look first. It is an
// association, not a proven cause.
type TaskDriver struct {
	// metric is the driver Metric.
	Metric string `json:"metric"`
	// spearman is its rank correlation with the outcome across segments.
	Spearman float64 `json:"spearman"`
	// segments is how many segments the correlation rests on.
	Segments int32 `json:"segments"`
	// segment is where value was measured: the task's key (such as
	// account=Acme) when the task is for one, else the driver's whole
	// population, "".
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Segment string `json:"segment,omitempty"`
	// value of the driver there, when measured.
	// +optional
	Value *float64 `json:"value,omitempty"`
	// target of the driver's own objective, when fixed.
	// +optional
	Target *float64 `json:"target,omitempty"`
	// direction of the driver's objective.
	// +optional
	Direction Direction `json:"direction,omitempty"`
	// missesTarget is true when the value is on the wrong side of the
	// driver's own target: an actionable lever.
	// +optional
	MissesTarget bool `json:"missesTarget,omitempty"`
}
