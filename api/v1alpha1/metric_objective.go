package v1alpha1

// Objective says what good looks like for a metric: a fixed target, or a
// change relative to a frozen baseline window.
// +kubebuilder:validation:XValidation:rule="has(self.target) != has(self.relative)",message="set exactly one of target and relative"
// +kubebuilder:validation:XValidation:rule="!has(self.warningAt) || has(self.target)",message="warningAt needs a fixed target"
// +kubebuilder:validation:XValidation:rule="!has(self.warningAt) || !has(self.target) || (self.direction == 'AtLeast' ? self.warningAt >= self.target : self.warningAt <= self.target)",message="warningAt must lie on the safe side of the target: at or above it for AtLeast, at or below it for AtMost"
type Objective struct {
	// direction says which side of the target is good: AtLeast (higher is
	// better, the default) or AtMost (lower is better).
	// +kubebuilder:default=AtLeast
	// +optional
	Direction Direction `json:"direction,omitempty"`

	// target is the fixed value the metric should hold, in the unit the
	// formula reports: NPS points from -100 to 100 (such as 30), a csat or
	// rate share in percent from 0 to 100 (85 for 85 %), a ces mean within
	// its scale (5.5 on 1-7), ratios as plain ratios (1.05 for an NRR of
	// 105 %), other means and percentiles in the data's own unit.
	// +optional
	Target *float64 `json:"target,omitempty"`

	// relative compares the metric with a frozen baseline window instead of
	// a fixed target.
	// +optional
	Relative *RelativeObjective `json:"relative,omitempty"`

	// warningAt is a value on the safe side of the target where the state
	// turns Warning before it turns Breached, in the target's unit and
	// within the same range.
	// +optional
	WarningAt *float64 `json:"warningAt,omitempty"`

	// confidence of the interval reported for the window; the window is
	// Breached only when the whole interval is on the wrong side.
	// +kubebuilder:default=0.95
	// +kubebuilder:validation:Minimum=0.5
	// +kubebuilder:validation:Maximum=0.999
	// +optional
	Confidence float64 `json:"confidence,omitempty"`

	// minSamples is the fewest samples (effective samples when weighted) a
	// window needs before it has a value; below it the state is
	// InsufficientData and nothing opens, verifies or closes.
	// +kubebuilder:default=30
	// +kubebuilder:validation:Minimum=1
	// +optional
	MinSamples int64 `json:"minSamples,omitempty"`

	// minShift (δ) is the smallest change worth a task, in the metric's
	// units: 5 means five NPS points. The change detector is tuned to it.
	// Defaults: nps 5, csat, rate and percentile 5 points of percentage, ces
	// 0.3; formulas in units of their own (mean, sum, count, ratio such as
	// NRR, value) 5 % of the target.
	// +kubebuilder:validation:ExclusiveMinimum=true
	// +kubebuilder:validation:Minimum=0
	// +optional
	MinShift *float64 `json:"minShift,omitempty"`

	// falseTaskBudget is how many tasks per 100 metric-months the detector
	// may open on data that sits exactly at the target, across all segments
	// of the metric together.
	// +kubebuilder:default=1
	// +kubebuilder:validation:ExclusiveMinimum=true
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	FalseTaskBudget float64 `json:"falseTaskBudget,omitempty"`
}

// RelativeObjective compares a metric with a frozen baseline: the last
// window judged in control, never a rolling window the drop itself drags.
type RelativeObjective struct {
	// baselineWindow is the length of the baseline, such as "720h".
	// +kubebuilder:default="720h"
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +optional
	BaselineWindow string `json:"baselineWindow,omitempty"`
	// maxChange is how far the metric may move to the wrong side of the
	// baseline, in its units, before it counts as breached.
	// +kubebuilder:validation:Minimum=0
	MaxChange float64 `json:"maxChange"`
}

// ImprovementPolicy governs the improvement tasks a metric opens.
type ImprovementPolicy struct {
	// dryRun evaluates everything and lists in status the tasks that would
	// open, without creating any.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
	// verifyWindow is how long after a resolution fresh data is collected
	// to prove the fix; a task not proven by then is reopened.
	// +kubebuilder:default="720h"
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +optional
	VerifyWindow string `json:"verifyWindow,omitempty"`
	// minFreshSamples is the fewest samples after the resolution before
	// verification may decide anything.
	// +kubebuilder:default=30
	// +kubebuilder:validation:Minimum=1
	// +optional
	MinFreshSamples int64 `json:"minFreshSamples,omitempty"`
	// maxAttempts is how many times a task may be reopened before it is
	// escalated.
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	// +optional
	MaxAttempts int32 `json:"maxAttempts,omitempty"`
	// escalationTeam receives escalated tasks; the owner team's own
	// escalation team when empty.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	EscalationTeam string `json:"escalationTeam,omitempty"`
	// maxOpenTasks caps the tasks open at once for this metric; the highest
	// priority open first and the rest are listed as held back.
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	MaxOpenTasks int32 `json:"maxOpenTasks,omitempty"`
	// dueAfter sets a task's due date this long after it opens.
	// +kubebuilder:default="336h"
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +optional
	DueAfter string `json:"dueAfter,omitempty"`
	// playbook is the advice copied into every task, such as "review the
	// macros behind the most reopened ticket category".
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Playbook string `json:"playbook,omitempty"`
	// retention keeps closed tasks this long for history before removing
	// them.
	// +kubebuilder:default="2160h"
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Retention string `json:"retention,omitempty"`
}
