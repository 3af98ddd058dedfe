package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Recurrence says whether an exclusion repeats.
// +kubebuilder:validation:Enum=None;Weekly;Yearly
type Recurrence string

// The recurrences.
const (
	// RecurrenceNone: the exclusion happens once.
	RecurrenceNone Recurrence = "None"
	// RecurrenceWeekly: the exclusion repeats every week at the same
	// wall-clock time in the Metric's timeZone.
	RecurrenceWeekly Recurrence = "Weekly"
	// RecurrenceYearly: the exclusion repeats every year on the same date
	// and wall-clock time in the Metric's timeZone.
	RecurrenceYearly Recurrence = "Yearly"
)

// MetricExclusion is a known event whose data the metric ignores: an
// outage, a price change, the holidays. Units whose time lies in
// [start, end) (or in a later occurrence of a recurring exclusion) are
// left out of the window's value, the change detector's feed, the
// baseline and the verification of a task's fix, as if they had never
// been recorded.
// +kubebuilder:validation:XValidation:rule="self.end > self.start",message="end must be after start"
// +kubebuilder:validation:XValidation:rule="self.end - self.start <= duration('2160h')",message="an exclusion lasts at most 90 days (2160h); split a longer known event into several exclusions"
// +kubebuilder:validation:XValidation:rule="!has(self.recurrence) || self.recurrence != 'Weekly' || self.end - self.start < duration('168h')",message="a weekly exclusion must last less than a week (168h)"
type MetricExclusion struct {
	// name identifies the exclusion in status and events, a DNS label such
	// as "black-friday" or "warehouse-outage".
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// start is the inclusive start of the (first) occurrence, an RFC 3339
	// date-time such as "2026-11-27T00:00:00+01:00".
	Start metav1.Time `json:"start"`

	// end is the exclusive end of the (first) occurrence, an RFC 3339
	// date-time after start and at most 90 days after it.
	End metav1.Time `json:"end"`

	// recurrence repeats the exclusion: None (once, the default), Weekly
	// or Yearly. A recurring exclusion repeats at the same wall-clock time
	// in the Metric's timeZone, so a Weekly one from Saturday 00:00 to
	// Monday 00:00 covers every weekend on both sides of a daylight-saving
	// change. A Yearly one starting on 29 February falls on 1 March in
	// other years.
	// +kubebuilder:default=None
	// +optional
	Recurrence Recurrence `json:"recurrence,omitempty"`

	// reason says why the period is excluded, for the people reading the
	// Metric's status and events.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Reason string `json:"reason,omitempty"`
}

// ExclusionStatus is the occurrence of an exclusion in force at the
// latest evaluation.
type ExclusionStatus struct {
	// name of the exclusion in spec.exclusions.
	Name string `json:"name"`
	// start of the occurrence in force.
	Start metav1.Time `json:"start"`
	// end of the occurrence in force: data after it counts again.
	End metav1.Time `json:"end"`
	// reason copied from the exclusion.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Reason string `json:"reason,omitempty"`
}
