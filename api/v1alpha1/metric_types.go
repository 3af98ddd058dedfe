package v1alpha1

// Formula names how a Metric turns data into one number.
// +kubebuilder:validation:Enum=nps;csat;ces;rate;mean;percentile;sum;count;ratio;value;derived
type Formula string

// The supported formulas; DOMAIN.md of the project documents each.
const (
	FormulaNPS        Formula = "nps"
	FormulaCSAT       Formula = "csat"
	FormulaCES        Formula = "ces"
	FormulaRate       Formula = "rate"
	FormulaMean       Formula = "mean"
	FormulaPercentile Formula = "percentile"
	FormulaSum        Formula = "sum"
	FormulaCount      Formula = "count"
	FormulaRatio      Formula = "ratio"
	FormulaValue      Formula = "value"
	FormulaDerived    Formula = "derived"
)

// UnratedPolicy says how responses without a score count.
// +kubebuilder:validation:Enum=Exclude;CountAsNegative
type UnratedPolicy string

// MetricSpec declares one customer-experience metric: where its data lives,
// how it is computed, what good looks like and who owns it.
// +kubebuilder:validation:XValidation:rule="duration(self.window) > duration(self.interval)",message="window must be longer than interval"
// +kubebuilder:validation:XValidation:rule="duration(self.interval).getMilliseconds() > 0 && duration(self.window).getMilliseconds() % duration(self.interval).getMilliseconds() == 0",message="window must be a whole number of intervals"
// +kubebuilder:validation:XValidation:rule="self.formula == 'derived' ? has(self.expression) : !has(self.expression)",message="expression must be set when, and only when, formula is derived"
// +kubebuilder:validation:XValidation:rule="self.formula == 'derived' ? (has(self.inputs) && size(self.inputs) > 0) : !has(self.inputs)",message="inputs must be set when, and only when, formula is derived"
// +kubebuilder:validation:XValidation:rule="self.formula == 'derived' || has(self.source)",message="source is required unless formula is derived"
// +kubebuilder:validation:XValidation:rule="self.formula == 'derived' || has(self.query)",message="query is required unless formula is derived"
// +kubebuilder:validation:XValidation:rule="self.formula == 'percentile' ? has(self.percentile) : !has(self.percentile)",message="percentile must be set when, and only when, formula is percentile"
// +kubebuilder:validation:XValidation:rule="!has(self.satisfiedMin) || self.formula == 'csat'",message="satisfiedMin applies only to formula csat"
// +kubebuilder:validation:XValidation:rule="!has(self.satisfiedMin) || !has(self.scale) || (self.satisfiedMin > self.scale.min && self.satisfiedMin <= self.scale.max)",message="satisfiedMin must lie above scale.min and within the scale"
// +kubebuilder:validation:XValidation:rule="!has(self.satisfiedMin) || has(self.scale) || (self.satisfiedMin > 1 && self.satisfiedMin <= 5)",message="satisfiedMin must lie in 2-5 on the default csat scale 1-5; set scale for another range, such as scale: {min: 1, max: 10}",fieldPath=".satisfiedMin"
// +kubebuilder:validation:XValidation:rule="self.formula != 'nps' || !has(self.objective.target) || (self.objective.target >= -100.0 && self.objective.target <= 100.0)",message="objective.target of an nps metric must lie between -100 and 100",fieldPath=".objective.target"
// +kubebuilder:validation:XValidation:rule="self.formula != 'nps' || !has(self.objective.warningAt) || (self.objective.warningAt >= -100.0 && self.objective.warningAt <= 100.0)",message="objective.warningAt of an nps metric must lie between -100 and 100",fieldPath=".objective.warningAt"
// +kubebuilder:validation:XValidation:rule="!(self.formula in ['csat', 'rate']) || !has(self.objective.target) || (self.objective.target >= 0.0 && self.objective.target <= 100.0)",message="objective.target of a csat or rate metric is a percentage and must lie between 0 and 100, such as 85 for 85 %",fieldPath=".objective.target"
// +kubebuilder:validation:XValidation:rule="!(self.formula in ['csat', 'rate']) || !has(self.objective.warningAt) || (self.objective.warningAt >= 0.0 && self.objective.warningAt <= 100.0)",message="objective.warningAt of a csat or rate metric is a percentage and must lie between 0 and 100",fieldPath=".objective.warningAt"
// +kubebuilder:validation:XValidation:rule="self.formula != 'ces' || !has(self.objective.target) || (has(self.scale) ? (self.objective.target >= double(self.scale.min) && self.objective.target <= double(self.scale.max)) : (self.objective.target >= 1.0 && self.objective.target <= 7.0))",message="objective.target of a ces metric is a mean score and must lie within its scale: 1-7 unless scale says otherwise",fieldPath=".objective.target"
// +kubebuilder:validation:XValidation:rule="self.formula != 'ces' || !has(self.objective.warningAt) || (has(self.scale) ? (self.objective.warningAt >= double(self.scale.min) && self.objective.warningAt <= double(self.scale.max)) : (self.objective.warningAt >= 1.0 && self.objective.warningAt <= 7.0))",message="objective.warningAt of a ces metric is a mean score and must lie within its scale: 1-7 unless scale says otherwise",fieldPath=".objective.warningAt"
// +kubebuilder:validation:XValidation:rule="self.formula != 'nps' || !has(self.scale) || (self.scale.min == 0 && self.scale.max == 10)",message="nps is defined on the 0-10 scale only"
// +kubebuilder:validation:XValidation:rule="!has(self.scale) || self.formula in ['nps', 'csat', 'ces']",message="scale applies only to the survey formulas nps, csat and ces"
// +kubebuilder:validation:XValidation:rule="self.formula != 'ratio' || !has(self.query) || (has(self.query.columns) && has(self.query.columns.numerator) && has(self.query.columns.denominator))",message="formula ratio needs query.columns.numerator and query.columns.denominator"
// +kubebuilder:validation:XValidation:rule="self.formula != 'value' || (has(self.query) && has(self.query.promQL))",message="formula value reads a gauge and needs query.promQL"
// +kubebuilder:validation:XValidation:rule="!has(self.query) || !has(self.query.promQL) || self.formula == 'value'",message="query.promQL reads a gauge: use formula value (Prometheus evaluates the expression, so write the NPS, rate or ratio in PromQL)"
// +kubebuilder:validation:XValidation:rule="!has(self.improvement) || !has(self.improvement.verifyWindow) || duration(self.improvement.verifyWindow) >= duration(self.interval)",message="improvement.verifyWindow must be at least one interval"
// +kubebuilder:validation:XValidation:rule="!has(self.unit) || !(self.formula in ['nps', 'csat', 'ces', 'rate', 'count'])",message="unit applies to mean, percentile, sum, ratio, value and derived: nps and ces are scores, csat and rate percentages and count a number of units",fieldPath=".unit"
// +kubebuilder:validation:XValidation:rule="!has(self.invitations) || self.formula in ['nps', 'csat', 'ces']",message="invitations apply to the survey formulas nps, csat and ces",fieldPath=".invitations"
// +kubebuilder:validation:XValidation:rule="!has(self.owner.segments) || self.owner.segments.all(s, has(self.segmentBy) && s.column in self.segmentBy)",message="owner.segments[].column must be one of segmentBy: a segment's owner is found by its values",fieldPath=".owner.segments"
// +kubebuilder:validation:XValidation:rule="self.formula != 'derived' || !has(self.exclusions)",message="exclusions apply to measured metrics: a derived metric follows its inputs, so exclude the period on them"
type MetricSpec struct {
	// owner is the team that receives improvement tasks for this metric.
	Owner MetricOwner `json:"owner"`

	// source names the DataSource, in this namespace, the metric is read
	// from. Not used by derived metrics.
	// +optional
	Source *LocalObjectReference `json:"source,omitempty"`

	// formula turns the data into one number: nps (promoters minus
	// detractors on 0-10), csat (share of satisfied responses), ces (mean
	// effort score), rate (share of units whose value is 1, such as
	// first-contact resolution or churn), mean, percentile (of durations such
	// as resolution time), sum, count, ratio (sum of a numerator over sum of a
	// denominator, such as net revenue retention), value (a gauge read as is)
	// or derived (an expression over other metrics).
	Formula Formula `json:"formula"`

	// unit of the value, for mean, percentile, sum, ratio, value and
	// derived, shown beside it in kubectl get and on tasks: milliseconds,
	// seconds, minutes, hours or days make the value a duration, printed
	// as 2h47m; any other short word, such as USD, tickets or %, follows
	// the number. It changes how the value reads, never the value.
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:Pattern=`^[A-Za-z%$€£¥/]+$`
	// +optional
	Unit string `json:"unit,omitempty"`

	// scale of the survey answers, for nps, csat and ces. Defaults: nps 0-10,
	// csat 1-5, ces 1-7.
	// +optional
	Scale *ResponseScale `json:"scale,omitempty"`

	// satisfiedMin is the lowest csat score counted as satisfied. The
	// default is the top-2 box (4 on a 1-5 scale); set it to the scale's
	// maximum for top-box.
	// +optional
	SatisfiedMin *int64 `json:"satisfiedMin,omitempty"`

	// percentile to report for formula percentile, such as 50 for the
	// median or 90 for p90.
	// +kubebuilder:validation:ExclusiveMinimum=true
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:ExclusiveMaximum=true
	// +kubebuilder:validation:Maximum=100
	// +optional
	Percentile *float64 `json:"percentile,omitempty"`

	// shareOver turns a duration metric into units for change detection:
	// tasks open on the share of units whose value exceeds this threshold
	// ("share of tickets answered after 4 hours" with shareOver 14400).
	// +optional
	ShareOver *float64 `json:"shareOver,omitempty"`

	// unrated says how responses without a score count: Exclude leaves them
	// out of the denominator (the default); CountAsNegative counts them as
	// not satisfied (csat, rate) or as detractors (nps).
	// +kubebuilder:default=Exclude
	// +optional
	Unrated UnratedPolicy `json:"unrated,omitempty"`

	// expression computes a derived metric from its inputs, in CEL, such as
	// "avg_purchase_value * purchase_frequency * lifespan". Arithmetic over
	// the inputs needs no list macros; at most two of map, filter, all,
	// exists and exists_one may appear, and the operator also refuses any
	// expression whose estimated cost is too high (ExpressionTooCostly).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.matches('(?s)([.](map|filter|all|exists|exists_one)[(].*){3,}')",message="at most two list macros (map, filter, all, exists, exists_one) may appear: nested macros multiply the work on every evaluation"
	// +optional
	Expression string `json:"expression,omitempty"`

	// inputs of a derived metric: each names another Metric in this
	// namespace and the variable its value binds to in the expression.
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	// +optional
	Inputs []DerivedInput `json:"inputs,omitempty"`

	// query says where the metric's data is within its source.
	// +optional
	Query *MetricQuery `json:"query,omitempty"`

	// window is how much recent data the reported value covers, as a Go
	// duration such as "720h" (30 days).
	// +kubebuilder:default="720h"
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Window string `json:"window,omitempty"`

	// interval between evaluations, as a Go duration of at least "1m",
	// such as "24h" or "1h". Evaluation bounds are aligned to multiples of
	// it counted from a Monday midnight in timeZone; window must be a whole
	// number of intervals. The floor bounds the queries one Metric sends
	// its source.
	// +kubebuilder:default="24h"
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="interval must be at least 1m, such as 1h or 24h"
	// +optional
	Interval string `json:"interval,omitempty"`

	// timeZone is the IANA time zone evaluation bounds are aligned in, such
	// as "Europe/Berlin": a 24h interval starts at local midnight and a
	// 168h interval on Monday at 00:00 local time. Default UTC.
	// +kubebuilder:default="UTC"
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$`
	// +kubebuilder:validation:MaxLength=64
	// +optional
	TimeZone string `json:"timeZone,omitempty"`

	// settleDelay holds each evaluation back by this long so that rows that
	// arrive late are counted once, in their own interval, and never dropped.
	// +kubebuilder:default="0s"
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +optional
	SettleDelay string `json:"settleDelay,omitempty"`

	// segmentBy lists the columns (or fields, or labels) the metric is also
	// measured per value of, such as account, persona or journey stage.
	// +kubebuilder:validation:MaxItems=4
	// +listType=set
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	// +kubebuilder:validation:items:MaxLength=63
	// +optional
	SegmentBy []string `json:"segmentBy,omitempty"`

	// objective says what good looks like.
	Objective Objective `json:"objective"`

	// improvement is the policy for the tasks this metric opens.
	// +optional
	// +kubebuilder:default={}
	Improvement *ImprovementPolicy `json:"improvement,omitempty"`

	// drivers names operational Metrics that may move this outcome (on-time
	// shipment, first-contact resolution, time to first value for an NPS
	// or a renewal rate): the operator measures each one's association
	// with the outcome across the keyColumn's segments and over time,
	// ranks them in status.drivers, and puts the strongest on each task
	// it opens, with their values in the task's segment. Association is
	// not causation.
	// +optional
	Drivers *DriverAnalysis `json:"drivers,omitempty"`

	// invitations names the surveys sent, for survey formulas: status then
	// shows the response rate overall and per segment, and a segment
	// answering below invitations.minResponseRate is flagged on its tasks
	// and scorecard rows, since its score may not be its experience.
	// +optional
	Invitations *SurveyInvitations `json:"invitations,omitempty"`

	// suspend stops evaluation without losing the detector's state.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// exclusions are known events (an outage, a price change, the
	// holidays) whose data the metric leaves out of its value, its change
	// detector, its baseline and the verification of fixes. Adding one
	// does not change the definition hash, so the detector and open tasks
	// are kept.
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=name
	// +optional
	Exclusions []MetricExclusion `json:"exclusions,omitempty"`
}

// ResponseScale is the range of answers a survey question allows.
// +kubebuilder:validation:XValidation:rule="self.min < self.max",message="scale.min must be below scale.max"
type ResponseScale struct {
	// min is the lowest answer, such as 1.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Min int64 `json:"min"`
	// max is the highest answer, such as 5.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Max int64 `json:"max"`
}

// DerivedInput binds another Metric's value to a variable of an expression.
type DerivedInput struct {
	// name of the variable in the expression.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// metric is the name of a Metric in this namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Metric string `json:"metric"`
}

// MetricQuery says where a metric's data is within its source. Set exactly
// one of table, sql and promQL; table also maps the fields of HTTP JSON and
// CSV records.
// +kubebuilder:validation:XValidation:rule="(has(self.table) ? 1 : 0) + (has(self.sql) ? 1 : 0) + (has(self.promQL) ? 1 : 0) == 1",message="set exactly one of table, sql and promQL"
// +kubebuilder:validation:XValidation:rule="has(self.promQL) || has(self.columns)",message="columns are required with table or sql"
// +kubebuilder:validation:XValidation:rule="!has(self.samplesPromQL) || has(self.promQL)",message="samplesPromQL applies only with promQL"
// +kubebuilder:validation:XValidation:rule="!has(self.promQL) || !has(self.columns) || !has(self.columns.cluster)",message="columns.cluster applies only to table and sql queries: a Prometheus series has no responses to cluster"
type MetricQuery struct {
	// table holding one row per response, ticket or account. Use "records"
	// for HTTP JSON and CSV sources, whose columns are then JSON dot paths
	// (customer.segment) or CSV header names.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`
	// +kubebuilder:validation:MaxLength=127
	// +optional
	Table string `json:"table,omitempty"`

	// sql is a read-only SELECT whose result is used as the table; the
	// operator wraps it, binds every value and runs it in a read-only
	// transaction with the source's timeout.
	// +kubebuilder:validation:MaxLength=8192
	// +optional
	SQL string `json:"sql,omitempty"`

	// promQL is the PromQL expression of a prometheus source's value, read
	// with formula value. Prometheus evaluates it at the end of each window;
	// $__window stands for the window's length, so
	// avg_over_time(queue_wait_seconds[$__window]) is the window's mean.
	// Each series returned is one reading; segmentBy names the labels that
	// give a series its segment.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	PromQL string `json:"promQL,omitempty"`

	// samplesPromQL optionally counts the samples behind promQL's value, per
	// series, such as count_over_time(queue_wait_seconds[$__window]); each
	// reading is then weighted by its count.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	SamplesPromQL string `json:"samplesPromQL,omitempty"`

	// columns map the table's columns (or the records' fields) to roles.
	// +optional
	Columns *QueryColumns `json:"columns,omitempty"`

	// filters keep only the rows that match all of them.
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Filters []QueryFilter `json:"filters,omitempty"`
}

// QueryColumns map a table's columns, or a record's fields, to their roles.
// Column names are identifiers; record fields are dot paths.
type QueryColumns struct {
	// value holds the score, the 0/1 outcome of a rate, or the measured
	// quantity (seconds, money).
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`
	// +kubebuilder:validation:MaxLength=127
	// +optional
	Value string `json:"value,omitempty"`
	// time holds when the row happened; windows select on it.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`
	// +kubebuilder:validation:MaxLength=127
	Time string `json:"time"`
	// interactionTime, when set, places a late survey answer at the time of
	// the interaction it rates, so verification after a fix never counts
	// experiences from before it.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`
	// +kubebuilder:validation:MaxLength=127
	// +optional
	InteractionTime string `json:"interactionTime,omitempty"`
	// weight holds a per-response weight, such as the account's annual
	// revenue spread over its responses. Unweighted when empty.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`
	// +kubebuilder:validation:MaxLength=127
	// +optional
	Weight string `json:"weight,omitempty"`
	// numerator of a ratio of sums, such as recurring revenue at the end.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`
	// +kubebuilder:validation:MaxLength=127
	// +optional
	Numerator string `json:"numerator,omitempty"`
	// denominator of a ratio of sums, such as recurring revenue at the start.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`
	// +kubebuilder:validation:MaxLength=127
	// +optional
	Denominator string `json:"denominator,omitempty"`
	// cluster names the column whose equal values mark responses that are
	// not independent, typically the account id: several users of one
	// account answer alike. The detector's calibration then measures the
	// sampling noise of each interval's mean cluster-robustly, so an
	// account's shared mood counts as noise and not as a change. Clusters
	// are taken within each queried interval and segment (responses
	// without a value form one cluster); correlation across intervals is
	// measured by the detector's long-run variance. Only table and sql
	// queries have rows to cluster; promQL refuses it. Unclustered when
	// empty.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`
	// +kubebuilder:validation:MaxLength=127
	// +optional
	Cluster string `json:"cluster,omitempty"`
}

// FilterOperator compares a column with a value.
// +kubebuilder:validation:Enum=Equals;NotEquals;In;NotIn;LessThan;GreaterThan
type FilterOperator string

// QueryFilter keeps rows whose column compares true with the values, which
// are always sent as bound parameters, never spliced into the query.
// +kubebuilder:validation:XValidation:rule="self.operator in ['In', 'NotIn'] ? size(self.values) >= 1 : size(self.values) == 1",message="In and NotIn take one or more values, other operators exactly one"
type QueryFilter struct {
	// column to compare.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`
	// +kubebuilder:validation:MaxLength=127
	Column string `json:"column"`
	// operator of the comparison.
	Operator FilterOperator `json:"operator"`
	// values to compare with, as strings; numbers are compared as numbers
	// when the column is numeric.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	Values []string `json:"values"`
}
