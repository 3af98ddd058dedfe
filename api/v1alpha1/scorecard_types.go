package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaxScorecardAccountsListed bounds status.atRisk, so a scorecard's
// status stays small however many accounts fall short; the count and the
// value at risk cover them all.
const MaxScorecardAccountsListed = 20

// MaxScorecardAccountsEncoded bounds status.encodedAccounts: past it the
// most valuable accounts are kept (then the lowest scores).
const MaxScorecardAccountsEncoded = 5000

// ScorecardSpec declares one health score per account: a weighted
// composite of member Metrics, possibly read from different DataSources
// (survey warehouse, ticketing, product usage, revenue), joined on a key
// that each member maps from its own column.
type ScorecardSpec struct {
	// owner is the team accountable for the accounts' health, such as
	// customer success.
	Owner ScorecardOwner `json:"owner"`

	// key names what the members are joined on, such as account: status
	// labels each account with it.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	// +kubebuilder:validation:MaxLength=63
	Key string `json:"key"`

	// members are the Metrics the score combines. Each is read from its
	// own DataSource with its own definition, filters and window, once
	// per key value, and normalised to 0-100: 0 at its floor, 100 at its
	// target or better, linear between. An account's score is the
	// weighted mean of the members with data for it; a member without
	// data is shown as missing, never counted as 0.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	Members []ScorecardMember `json:"members"`

	// value weighs the accounts by what they are worth, such as their
	// annual revenue: the index is the value-weighted mean of the account
	// scores, and the accounts at risk are listed most valuable first.
	// Without it every account weighs alike.
	// +optional
	Value *ScorecardValue `json:"value,omitempty"`

	// outcomes are business results measured per account (renewal or
	// churn rate, net revenue retention), set beside the scores: each at-risk
	// account shows them, and status compares their mean over the accounts
	// at risk with the mean over the healthy ones. They are not part of
	// the score.
	// +kubebuilder:validation:MaxItems=4
	// +listType=map
	// +listMapKey=name
	// +optional
	Outcomes []ScorecardOutcome `json:"outcomes,omitempty"`

	// objective is the score an account should reach; an account below it
	// is at risk.
	Objective ScorecardObjective `json:"objective"`

	// drivers are operational Metrics that may move the accounts' scores
	// (on-time shipment, time to first value, reopen rate), each with its
	// own column for the key: every scoring measures each one's
	// association with the scores across accounts, and the Scorecard's
	// tasks carry the strongest, with their values for the task's account.
	// Association is not causation: status says how many accounts stand
	// behind each estimate.
	// +kubebuilder:validation:MaxItems=8
	// +listType=map
	// +listMapKey=metric
	// +optional
	Drivers []DriverMetric `json:"drivers,omitempty"`

	// improvement is the policy for the tasks this scorecard opens, one per
	// account whose score stays below the objective: the same fields, and
	// the same lifecycle, as a Metric's. No task opens for an account
	// while one of its member Metrics has a task open for that account.
	// +optional
	// +kubebuilder:default={}
	Improvement *ImprovementPolicy `json:"improvement,omitempty"`

	// interval between evaluations, as a Go duration of at least "1m".
	// +kubebuilder:default="24h"
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="interval must be at least 1m, such as 1h or 24h"
	// +optional
	Interval string `json:"interval,omitempty"`

	// suspend stops evaluation; the last status is kept.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// ScorecardOwner names the team accountable for a scorecard.
type ScorecardOwner struct {
	// team is the name of a Team in this namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Team string `json:"team"`
}

// ScorecardMember is one Metric of a scorecard and how it scores.
// +kubebuilder:validation:XValidation:rule="!has(self.floor) || !has(self.target) || self.floor != self.target",message="floor and target must differ: the score runs from 0 at the floor to 100 at the target"
type ScorecardMember struct {
	// name of the member, shown in status, such as nps or fcr.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// metric is the name of a Metric in this namespace, measured from a
	// DataSource (not derived).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Metric string `json:"metric"`

	// keyColumn is the member's column (or field) holding the key's
	// value, such as account or account_id.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`
	// +kubebuilder:validation:MaxLength=127
	KeyColumn string `json:"keyColumn"`

	// weight is the member's share of an account's score, relative to the
	// other members with data for that account. Default 1.
	// +kubebuilder:validation:ExclusiveMinimum=true
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Weight *float64 `json:"weight,omitempty"`

	// floor is the value that scores 0. Default the worst value of the
	// formula's scale: -100 for nps, 0 % for csat, the scale's worst end
	// for ces, and 0 % or 100 % for a rate, by the objective's direction.
	// Other formulas (means, durations, ratios) have no worst value and
	// need one, such as 86400 for a resolution time of a day.
	// +optional
	Floor *float64 `json:"floor,omitempty"`

	// target is the value that scores 100. Default the Metric's own
	// objective target.
	// +optional
	Target *float64 `json:"target,omitempty"`

	// personas weighs the member's answers by who gave them, so one
	// contact never stands for an account: each persona's value comes
	// from its own answers and the account's value is their weighted
	// mean.
	// +optional
	Personas *PersonaWeighting `json:"personas,omitempty"`

	// minSamples is the fewest units a key (or one of its personas) needs
	// before the member counts for it; below, the member is missing for
	// that account. Default 5.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	// +optional
	MinSamples *int64 `json:"minSamples,omitempty"`
}

// PersonaWeighting weighs a member's answers per persona.
type PersonaWeighting struct {
	// column holding the persona, such as persona or role.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`
	// +kubebuilder:validation:MaxLength=127
	Column string `json:"column"`

	// weights per persona, such as executive 3, admin 2, end-user 1.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=persona
	Weights []PersonaWeight `json:"weights"`

	// otherWeight is the weight of a persona weights does not list; 0
	// leaves its answers out. Default 1.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	OtherWeight *float64 `json:"otherWeight,omitempty"`
}

// PersonaWeight is one persona's weight.
type PersonaWeight struct {
	// persona as the column holds it, such as executive.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Persona string `json:"persona"`
	// weight of the persona's value in the account's.
	// +kubebuilder:validation:ExclusiveMinimum=true
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	Weight float64 `json:"weight"`
}

// ScorecardValue says where an account's worth is measured.
type ScorecardValue struct {
	// metric is the name of a Metric in this namespace whose value per key
	// is the account's worth, such as the mean of its recurring revenue
	// (formula mean over starting_arr).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Metric string `json:"metric"`

	// keyColumn is that Metric's column holding the key's value.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`
	// +kubebuilder:validation:MaxLength=127
	KeyColumn string `json:"keyColumn"`
}

// ScorecardOutcome is a business outcome read per account.
type ScorecardOutcome struct {
	// name of the outcome, such as churn.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// metric is the name of the Metric, in this namespace, measuring it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Metric string `json:"metric"`
	// keyColumn is that Metric's column holding the key's value.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`
	// +kubebuilder:validation:MaxLength=127
	KeyColumn string `json:"keyColumn"`
}

// ScorecardObjective is what a healthy account scores.
type ScorecardObjective struct {
	// target score, 0-100, such as 70.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Target float64 `json:"target"`

	// minCoverage is the least share of the members' weight an account's
	// data must cover for the account to be judged against target: an
	// account scored from one member on a handful of tickets is shown,
	// but neither at risk nor healthy. Default 0.5.
	// +kubebuilder:default=0.5
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1
	// +optional
	MinCoverage *float64 `json:"minCoverage,omitempty"`

	// minShift is the smallest drop in an account's score, in points,
	// worth a task: an account's window is a breach when its score lies
	// below target − minShift/2 beyond its error, and a fix is verified
	// only when the account's fresh score is shown above that level.
	// Default 10.
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	MinShift float64 `json:"minShift,omitempty"`

	// falseTaskBudget is how many tasks per 100 scorecard-months the
	// scorecard may open on accounts that sit exactly at the target,
	// across all its accounts together. Default 1.
	// +kubebuilder:default=1
	// +kubebuilder:validation:ExclusiveMinimum=true
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	FalseTaskBudget float64 `json:"falseTaskBudget,omitempty"`

	// window is the length of the windows accounts are judged on, such as
	// "720h": a score has no per-response units, so each window is scored
	// once when it closes, every member read over that same window, and
	// windows do not overlap. Default 30 days.
	// +kubebuilder:default="720h"
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('24h')",message="window must be at least 24h, such as 720h"
	// +optional
	Window string `json:"window,omitempty"`

	// confidence of every interval in status. Default 0.95.
	// +kubebuilder:default=0.95
	// +kubebuilder:validation:ExclusiveMinimum=true
	// +kubebuilder:validation:Minimum=0.5
	// +kubebuilder:validation:ExclusiveMaximum=true
	// +kubebuilder:validation:Maximum=1
	// +optional
	Confidence float64 `json:"confidence,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:shortName=cxsc;scorecards,categories=cxloop
// +kubebuilder:printcolumn:name="Index",type=number,JSONPath=`.status.index`
// +kubebuilder:printcolumn:name="Target",type=number,JSONPath=`.spec.objective.target`
// +kubebuilder:printcolumn:name="Accounts",type=integer,JSONPath=`.status.accounts`
// +kubebuilder:printcolumn:name="At risk",type=integer,JSONPath=`.status.accountsAtRisk`
// +kubebuilder:printcolumn:name="Value at risk",type=number,JSONPath=`.status.valueAtRisk`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,priority=1
// +kubebuilder:printcolumn:name="Team",type=string,JSONPath=`.spec.owner.team`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Scorecard is one health score per account across several Metrics and
// DataSources: the index over the accounts, its distribution and the
// accounts below objective, most valuable first, each with the member that
// pulls it down most.
type Scorecard struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the scorecard.
	Spec ScorecardSpec `json:"spec"`
	// status is the operator's latest scoring.
	// +optional
	Status ScorecardStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ScorecardList is a list of Scorecards.
type ScorecardList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Scorecard `json:"items"`
}

func init() {
	register(&Scorecard{}, &ScorecardList{})
}
