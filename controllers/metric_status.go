package controllers

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/redact"
)

// statusPatcher owns a Metric's status write: the reconcile edits next,
// summarize sets Ready, Reconciling and Stalled from how it ended, and
// flush patches once when something changed, then emits the events the
// reconcile queued, so no event announces a state that was not written.
type statusPatcher struct {
	r    *MetricReconciler
	m    *cxv1.Metric
	next *cxv1.MetricStatus
	// keep: nothing was due; the status stays as it is.
	keep bool
	// settled: the reconcile set Ready itself (measured, stalled,
	// suspended or source failed).
	settled, stalled bool
	events           []queuedEvent
}

type queuedEvent struct{ typ, reason, note string }

// conditionTeamNotFound is True while the Metric's owner Team does not
// exist: the Metric is measured (Ready stays True, the operator does its
// part) but its new episodes are held back until the user creates the
// Team or fixes spec.owner.team.
const conditionTeamNotFound = "TeamNotFound"

func newStatusPatcher(r *MetricReconciler, m *cxv1.Metric) *statusPatcher {
	return &statusPatcher{r: r, m: m, next: m.Status.DeepCopy()}
}

func (p *statusPatcher) event(typ, reason, note string, args ...any) {
	p.events = append(p.events, queuedEvent{typ, reason, fmt.Sprintf(note, args...)})
}

func (p *statusPatcher) setReady(s metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&p.next.Conditions, metav1.Condition{Type: cxv1.ConditionReady, Status: s, Reason: reason,
		Message: redact.Cut(msg, 1024), ObservedGeneration: p.m.Generation})
}

// ready: the operator did its job for this generation.
func (p *statusPatcher) ready(reason, msg string) {
	p.settled = true
	// Ready is never shown beside a stale failure: whatever failed before,
	// this reconcile got past it (or, suspended, no longer reads the source).
	meta.RemoveStatusCondition(&p.next.Conditions, cxv1.ConditionSourceUnavailable)
	meta.RemoveStatusCondition(&p.next.Conditions, cxv1.ConditionStalled)
	meta.RemoveStatusCondition(&p.next.Conditions, cxv1.ConditionReconciling)
	// Only a measured reconcile plans tasks; it sets the Team's condition
	// again after this (ownerTeam). Suspended, nothing is held for it.
	meta.RemoveStatusCondition(&p.next.Conditions, conditionTeamNotFound)
	p.setReady(metav1.ConditionTrue, reason, msg)
}

// ownerTeam sets TeamNotFound from the team read while planning: True,
// with what to do, while the Team is missing; removed once it exists. An
// event marks the moment it goes missing.
func (p *statusPatcher) ownerTeam(team engine.TeamLoad) {
	if !team.Missing {
		meta.RemoveStatusCondition(&p.next.Conditions, conditionTeamNotFound)
		return
	}
	msg := fmt.Sprintf("Team %s named in spec.owner.team does not exist in namespace %s; new tasks are held back (status.heldBackTasks) until it is created or spec.owner.team names an existing Team",
		p.m.Spec.Owner.Team, p.m.Namespace)
	if c := meta.FindStatusCondition(p.m.Status.Conditions, conditionTeamNotFound); c == nil || c.Status != metav1.ConditionTrue {
		p.event("Warning", conditionTeamNotFound, "%s", msg)
	}
	meta.SetStatusCondition(&p.next.Conditions, metav1.Condition{Type: conditionTeamNotFound, Status: metav1.ConditionTrue,
		Reason: conditionTeamNotFound, Message: redact.Cut(msg, 1024), ObservedGeneration: p.m.Generation})
}

// stall: nothing will change until the user does; the message says what
// to fix.
func (p *statusPatcher) stall(reason, msg string) {
	p.settled, p.stalled = true, true
	if c := meta.FindStatusCondition(p.next.Conditions, cxv1.ConditionStalled); c == nil || c.Reason != reason || c.Message != redact.Cut(msg, 1024) {
		p.event("Warning", reason, "%s", redact.Cut(msg, 900))
	}
	meta.SetStatusCondition(&p.next.Conditions, metav1.Condition{Type: cxv1.ConditionStalled, Status: metav1.ConditionTrue,
		Reason: reason, Message: redact.Cut(msg, 1024), ObservedGeneration: p.m.Generation})
	// Until the user fixes the spec nothing reads the source, so an earlier
	// source failure says nothing about it now.
	meta.RemoveStatusCondition(&p.next.Conditions, cxv1.ConditionSourceUnavailable)
	meta.RemoveStatusCondition(&p.next.Conditions, cxv1.ConditionReconciling)
	meta.RemoveStatusCondition(&p.next.Conditions, conditionTeamNotFound)
	p.setReady(metav1.ConditionFalse, reason, msg)
}

// sourceFailed: the source could not be read; the last good value stays
// and the evaluation is retried.
func (p *statusPatcher) sourceFailed(err error) {
	p.settled = true
	next := p.next
	next.ConsecutiveSourceErrors++
	msg := redact.Cut(err.Error(), 900)
	if next.ConsecutiveSourceErrors == 1 {
		p.event("Warning", "SourceUnavailable", "%s", msg)
	}
	gen := p.m.Generation
	meta.RemoveStatusCondition(&next.Conditions, cxv1.ConditionStalled)
	meta.SetStatusCondition(&next.Conditions, metav1.Condition{Type: cxv1.ConditionSourceUnavailable, Status: metav1.ConditionTrue,
		Reason: "QueryFailed", Message: msg, ObservedGeneration: gen})
	meta.SetStatusCondition(&next.Conditions, metav1.Condition{Type: cxv1.ConditionReconciling, Status: metav1.ConditionTrue,
		Reason: "ProgressingWithRetry", ObservedGeneration: gen,
		Message: fmt.Sprintf("retrying after %d failed evaluation(s); the last good value is kept", next.ConsecutiveSourceErrors)})
	p.setReady(metav1.ConditionFalse, "SourceUnavailable", msg+"; "+sourceHint(p.m))
}

// sourceHint says where to look when a Metric's data cannot be read: its
// DataSource, or for a derived Metric (which has none) its inputs.
func sourceHint(m *cxv1.Metric) string {
	if m.Spec.Formula == cxv1.FormulaDerived {
		return "check the Metrics named in spec.inputs"
	}
	return "check DataSource " + sourceName(m)
}

// retrying marks a reconcile that settled its conditions and then failed
// (creating a task, say): summarize records the error.
func (p *statusPatcher) retrying() { p.settled = false }

// summarize sets the conditions of a reconcile that ended without
// settling them: an error the operator retries.
func (p *statusPatcher) summarize(err error) {
	if p.keep || p.settled || err == nil {
		return
	}
	meta.SetStatusCondition(&p.next.Conditions, metav1.Condition{Type: cxv1.ConditionReconciling, Status: metav1.ConditionTrue,
		Reason: "ProgressingWithRetry", Message: redact.Cut(err.Error(), 1024), ObservedGeneration: p.m.Generation})
}

// flush patches the status when it changed, then emits queued events.
func (p *statusPatcher) flush(ctx context.Context) error {
	if !equality.Semantic.DeepEqual(&p.m.Status, p.next) {
		patch := client.MergeFrom(p.m.DeepCopy())
		p.m.Status = *p.next.DeepCopy()
		if err := p.r.Status().Patch(ctx, p.m, patch); err != nil {
			return fmt.Errorf("write status of metric %s: %w", p.m.Name, err)
		}
	}
	if p.r.Recorder != nil {
		for _, e := range p.events {
			p.r.Recorder.Eventf(p.m, nil, e.typ, e.reason, "Evaluate", "%s", e.note)
		}
	}
	p.events = nil
	return nil
}

// announceEpisodes queues an event for each episode that started or ended.
func (p *statusPatcher) announceEpisodes(res *engine.Evaluation) {
	before := map[string]bool{}
	// Every segment's evidence, not only the readable list's.
	if d := metricspec.DetectorOf(p.m.Status.Detector); d != nil {
		for _, s := range d.Segments {
			if s.Open() {
				before[s.Segment] = true
			}
		}
	}
	now := map[string]bool{}
	for _, ep := range res.Episodes {
		now[ep.Segment] = true
		if !before[ep.Segment] {
			p.event("Warning", "EpisodeStarted", "a change episode started in %s on %s", metricspec.SegmentLabel(ep.Segment), ep.Start.UTC().Format(time.RFC3339))
		}
	}
	for seg := range before {
		if !now[seg] {
			p.event("Normal", "EpisodeEnded", "the change episode in %s ended", metricspec.SegmentLabel(seg))
		}
	}
}

// announceExclusion records the exclusion that covered the evaluated
// interval and queues ExclusionStarted once per occurrence: the status
// keeps the occurrence, so the next evaluation inside it announces
// nothing and writes nothing.
func (p *statusPatcher) announceExclusion(res *engine.Evaluation) {
	x := res.Exclusion
	if x == nil {
		p.next.Exclusion = nil
		return
	}
	cur := &cxv1.ExclusionStatus{Name: x.Name, Start: metav1.NewTime(x.Start.UTC()), End: metav1.NewTime(x.End.UTC()),
		Reason: x.Reason}
	if old := p.m.Status.Exclusion; old == nil || old.Name != cur.Name || !old.Start.Equal(&cur.Start) {
		note := ""
		if x.Reason != "" {
			note = ": " + x.Reason
		}
		p.event("Normal", "ExclusionStarted", "exclusion %s leaves out data from %s until %s%s", x.Name,
			cur.Start.UTC().Format(time.RFC3339), cur.End.UTC().Format(time.RFC3339), note)
	}
	p.next.Exclusion = cur
}
