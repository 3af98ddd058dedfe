package v1alpha1

// Condition types shared by the cxloop kinds. Ready follows kstatus: it says
// the operator is doing its job (source reachable, evaluation succeeded),
// never that customers are happy.
const (
	// ConditionReady is True when the operator reconciled the object's latest
	// generation successfully.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the operator works towards Ready.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when the operator cannot make progress without
	// a change from the user.
	ConditionStalled = "Stalled"
	// ConditionChangeDetected is True on a Metric while its change detector
	// has an open episode. It never makes the Metric unhealthy.
	ConditionChangeDetected = "ChangeDetected"
	// ConditionInsufficientData is True when the window holds fewer samples
	// than the objective's minSamples.
	ConditionInsufficientData = "InsufficientData"
	// ConditionSourceUnavailable is True when the Metric's DataSource could
	// not be queried.
	ConditionSourceUnavailable = "SourceUnavailable"
	// ConditionEscalated is True on an ImprovementTask that was reopened more
	// often than its policy allows and was handed to the escalation team.
	ConditionEscalated = "Escalated"
)

// Conditions of an ImprovementTask besides Ready and Escalated.
const (
	// ConditionDataUnavailable is True on a task whose fresh data could not be
	// read: it waits, and nothing verifies, reopens or closes on missing data.
	ConditionDataUnavailable = "DataUnavailable"
	// ConditionFactsDisputed is True on a task whose facts disagree with its
	// Metric's own record of the episode (its name, which hashes the Metric's
	// UID, segment and episode start; its segment values; the detector's
	// state): no data is read for it, and it is not verified, reopened or
	// recovered until the disagreement is gone.
	ConditionFactsDisputed = "FactsDisputed"
	// ConditionResolutionIgnored is True on a task whose resolution claims an
	// attempt the task has not reached: the resolution does not count.
	ConditionResolutionIgnored = "ResolutionIgnored"
)

// ConditionUnsigned is True on a Team while a webhook channel has no
// signing key. It is a warning, not a failure: the deliveries still go out.
const ConditionUnsigned = "Unsigned"

// ReconcileRequestAnnotation asks the operator to evaluate a Metric (or
// re-check a DataSource) at once when its value changes, as Flux's
// reconcile.fluxcd.io/requestedAt does.
const ReconcileRequestAnnotation = "reconcile.cxloop.dev/requestedAt"

// SecretLabel opts a Secret in: cxloop reads (and watches) only Secrets
// labelled `cxloop.dev/secret: "true"`, so a DataSource or Team can name
// no other Secret of its namespace, such as another application's
// database password.
const SecretLabel = "cxloop.dev/secret"

// MetricFinalizer lets the operator cancel a Metric's open tasks before the
// Metric goes.
const MetricFinalizer = "cxloop.dev/cancel-tasks"

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// name of the referenced object in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`
}

// SecretKeyReference selects one key of a Secret in the same namespace.
type SecretKeyReference struct {
	// name of the Secret in the object's own namespace. Secrets of other
	// namespaces can never be read.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`
	// key within the Secret's data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// Direction says which side of a target is good.
// +kubebuilder:validation:Enum=AtLeast;AtMost
type Direction string

const (
	// AtLeast means higher is better (NPS, CSAT, FCR).
	AtLeast Direction = "AtLeast"
	// AtMost means lower is better (resolution time, churn, reopen rate).
	AtMost Direction = "AtMost"
)
