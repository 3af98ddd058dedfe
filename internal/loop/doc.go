// Package loop is the improvement-task state machine: opening (names,
// priorities, caps), the owner's actions, verification on fresh data,
// reopening, escalation, recovery, cancellation and retention.
//
// It is pure: given a task's status and what the operator observed, Step
// returns the next status and the events to deliver, and the reconciler
// applies them. Statistical decisions (is the drop gone? does it persist?)
// come in as Check values computed by internal/detect; this package only
// sequences them. It must not import Kubernetes packages.
package loop
