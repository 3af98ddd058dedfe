package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ScorecardStatus is the operator's latest scoring of the accounts.
type ScorecardStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready (every member was read and the accounts scored)
	// and Stalled (the spec cannot be scored as written: a member Metric
	// missing, derived, or without a floor).
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// lastHandledReconcileAt is the value of the
	// reconcile.cxloop.dev/requestedAt annotation last acted on: set the
	// annotation to any new value (a timestamp) to score at once.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`

	// drivers are spec.drivers' associations with the accounts' scores,
	// strongest first.
	// +optional
	Drivers *DriversStatus `json:"drivers,omitempty"`

	// detector is what the scorecard's task decisions carry from window
	// to window.
	// +optional
	Detector *ScorecardDetector `json:"detector,omitempty"`

	// heldBack lists accounts with an open episode but no task, and why
	// (a member's task open for the account, the capacity, a dry run), at
	// most 20.
	// +kubebuilder:validation:MaxItems=20
	// +optional
	HeldBack []HeldBackTask `json:"heldBack,omitempty"`

	// evaluatedAt is when the accounts were last scored.
	// +optional
	EvaluatedAt *metav1.Time `json:"evaluatedAt,omitempty"`

	// index is the accounts' scores averaged, weighted by value when
	// spec.value is set; absent without a scored account.
	// +optional
	Index *float64 `json:"index,omitempty"`
	// indexLower bounds the index's confidence interval from below.
	// +optional
	IndexLower *float64 `json:"indexLower,omitempty"`
	// indexUpper bounds the index's confidence interval from above.
	// +optional
	IndexUpper *float64 `json:"indexUpper,omitempty"`

	// accounts is how many accounts have a score: at least one member has
	// data for them.
	// +optional
	Accounts int32 `json:"accounts,omitempty"`

	// unvalued is how many scored accounts have no value, and so are left
	// out of a value-weighted index.
	// +optional
	Unvalued int32 `json:"unvalued,omitempty"`

	// distribution of the account scores.
	// +optional
	Distribution *ScoreDistribution `json:"distribution,omitempty"`

	// unjudged is how many scored accounts have too little coverage
	// (objective.minCoverage) to be judged against the target.
	// +optional
	Unjudged int32 `json:"unjudged,omitempty"`

	// accountsAtRisk is how many judged accounts score below the
	// objective.
	// +optional
	AccountsAtRisk int32 `json:"accountsAtRisk,omitempty"`

	// valueAtRisk sums the values of the accounts at risk: the revenue at
	// risk when value is annual revenue.
	// +optional
	ValueAtRisk *float64 `json:"valueAtRisk,omitempty"`

	// atRisk lists the accounts below the objective, most valuable first
	// (then lowest score), at most 20; each names the member that pulls it
	// down most.
	// +kubebuilder:validation:MaxItems=20
	// +optional
	AtRisk []ScorecardAccount `json:"atRisk,omitempty"`

	// encodedAccounts holds every scored account, up to 5,000 (the most
	// valuable first, then the lowest scores), compactly: "v1:" followed
	// by the standard, padded base64 of a gzip stream of a JSON array of
	// accounts sorted by key, each as in atRisk. kubectl cx account reads
	// it.
	// +optional
	EncodedAccounts string `json:"encodedAccounts,omitempty"`

	// outcomes set each spec.outcomes beside the scores: its mean over
	// the accounts at risk and over the judged accounts that are not. It
	// shows whether low scores go with worse outcomes, not that they cause
	// them.
	// +kubebuilder:validation:MaxItems=4
	// +optional
	Outcomes []OutcomeLinkage `json:"outcomes,omitempty"`

	// members says, per member, how many accounts it had data for.
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	// +optional
	Members []ScorecardMemberStatus `json:"members,omitempty"`
}

// OutcomeLinkage is one outcome beside the scores.
type OutcomeLinkage struct {
	// name of the outcome.
	Name string `json:"name"`
	// atRisk is the outcome's mean over the accounts at risk.
	// +optional
	AtRisk *float64 `json:"atRisk,omitempty"`
	// healthy is its mean over the judged accounts not at risk.
	// +optional
	Healthy *float64 `json:"healthy,omitempty"`
	// atRiskAccounts is how many accounts at risk had a value.
	AtRiskAccounts int32 `json:"atRiskAccounts"`
	// healthyAccounts is how many healthy accounts had a value.
	HealthyAccounts int32 `json:"healthyAccounts"`
}

// OutcomeValue is one outcome of one account.
type OutcomeValue struct {
	// name of the outcome.
	Name string `json:"name"`
	// value of the outcome for the account, when measured.
	// +optional
	Value *float64 `json:"value,omitempty"`
}

// ScoreDistribution is the spread of the account scores (unweighted).
type ScoreDistribution struct {
	// p10 is the 10th percentile.
	P10 float64 `json:"p10"`
	// p25 is the lower quartile.
	P25 float64 `json:"p25"`
	// median account score.
	Median float64 `json:"median"`
	// p75 is the upper quartile.
	P75 float64 `json:"p75"`
	// p90 is the 90th percentile.
	P90 float64 `json:"p90"`
}

// ScorecardAccount is one account's score.
type ScorecardAccount struct {
	// key is the account, as the members' key columns hold it.
	Key string `json:"key"`
	// score of the account, 0-100.
	Score float64 `json:"score"`
	// lower bound of the score's confidence interval.
	Lower float64 `json:"lower"`
	// upper bound of the score's confidence interval.
	Upper float64 `json:"upper"`
	// value of the account, when known.
	// +optional
	Value *float64 `json:"value,omitempty"`
	// coverage is the share of the members' weight with data for the
	// account, 0-1.
	Coverage float64 `json:"coverage"`
	// pulledDownBy names the member whose weighted shortfall costs the
	// account most: where to look first.
	// +optional
	PulledDownBy string `json:"pulledDownBy,omitempty"`
	// lowResponseRate is true when a member's response rate for the
	// account is below its threshold: the score may not represent the
	// account's stakeholders.
	// +optional
	LowResponseRate bool `json:"lowResponseRate,omitempty"`
	// outcomes are the account's spec.outcomes.
	// +kubebuilder:validation:MaxItems=4
	// +optional
	Outcomes []OutcomeValue `json:"outcomes,omitempty"`
	// members are the account's member scores.
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Members []ScorecardMemberScore `json:"members,omitempty"`
}

// ScorecardMemberScore is one member's part of an account's score.
type ScorecardMemberScore struct {
	// name of the member.
	Name string `json:"name"`
	// missing is true when the member has no data for the account.
	// +optional
	Missing bool `json:"missing,omitempty"`
	// value of the member for the account, in the member's unit.
	// +optional
	Value *float64 `json:"value,omitempty"`
	// score is the value normalised to 0-100.
	// +optional
	Score *float64 `json:"score,omitempty"`
	// samples behind the value.
	// +optional
	Samples int64 `json:"samples,omitempty"`
	// responseRate is the share of the member's invitations the account
	// answered, in percent, when the member's Metric names them.
	// +optional
	ResponseRate *float64 `json:"responseRate,omitempty"`
	// lowResponseRate is true when responseRate is below the Metric's
	// invitations.minResponseRate: the value may not be the account's
	// experience.
	// +optional
	LowResponseRate bool `json:"lowResponseRate,omitempty"`
}

// ScorecardMemberStatus is how a member was read.
type ScorecardMemberStatus struct {
	// name of the member.
	Name string `json:"name"`
	// accounts the member had data for.
	Accounts int32 `json:"accounts"`
	// floor is the value the member scored 0 at.
	// +optional
	Floor *float64 `json:"floor,omitempty"`
	// target is the value the member scored 100 at.
	// +optional
	Target *float64 `json:"target,omitempty"`
}

// MaxScorecardEpisodes bounds the open episodes a Scorecard's status
// keeps.
const MaxScorecardEpisodes = 1000

// ScorecardDetector is a scorecard's decision state.
type ScorecardDetector struct {
	// fedUntil is the end of the latest window judged.
	// +optional
	FedUntil *metav1.Time `json:"fedUntil,omitempty"`

	// episodes are the accounts whose closed windows breach, by account,
	// at most 1,000.
	// +kubebuilder:validation:MaxItems=1000
	// +optional
	Episodes []ScorecardEpisode `json:"episodes,omitempty"`

	// medians are the median account scores of past closed windows,
	// oldest first: how far a window's scores move together.
	// +kubebuilder:validation:MaxItems=12
	// +optional
	Medians []float64 `json:"medians,omitempty"`
}

// ScorecardEpisode is an account whose closed windows breach.
type ScorecardEpisode struct {
	// account is the key's value.
	// +kubebuilder:validation:MaxLength=256
	Account string `json:"account"`
	// start is the start of the first breaching window.
	Start metav1.Time `json:"start"`
	// score is the latest breaching window's score.
	Score float64 `json:"score"`
	// stdErr is the score's standard error, the windows' common spread
	// included.
	StdErr float64 `json:"stdErr"`
	// samples behind the score, over its members.
	Samples int64 `json:"samples"`
}
