package metricspec

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/redact"
	"github.com/cxloop/cxloop/internal/source"
)

// CheckFacts compares the task's operator-written facts with its Metric's
// own record of the episode.
func CheckFacts(task *cxv1.ImprovementTask, metric *cxv1.Metric) (loop.Dispute, bool) {
	facts := loop.Facts{Name: task.Name, Metric: task.Spec.Metric, Segment: task.Spec.Segment,
		ValuesKey: source.SegmentKey(task.Spec.SegmentValues), EpisodeStart: task.Spec.EpisodeStart.Time}
	record := loop.Record{MetricUID: string(metric.UID)}
	// A detector computed under another definition is no record of this
	// task's episode; the definition change cancels the task instead.
	if det := metric.Status.Detector; det != nil && metric.Status.DefinitionHash == task.Spec.DefinitionHash {
		record.Comparable = true
		if det.FedUntil != nil {
			record.FedUntil = det.FedUntil.Time
		}
		// Every segment's evidence, not only the readable list's.
		for _, seg := range DetectorOf(det).Segments {
			if seg.Segment == task.Spec.Segment && seg.Open() {
				record.OpenSince = seg.EpisodeStart
			}
		}
	}
	return loop.CheckFacts(facts, record)
}

// RecordDispute keeps the FactsDisputed condition in step with the facts
// check and reports whether the dispute is new.
func RecordDispute(st *cxv1.ImprovementTaskStatus, d loop.Dispute, disputed bool, generation int64) bool {
	if !disputed {
		meta.RemoveStatusCondition(&st.Conditions, cxv1.ConditionFactsDisputed)
		return false
	}
	was := meta.IsStatusConditionTrue(st.Conditions, cxv1.ConditionFactsDisputed)
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: cxv1.ConditionFactsDisputed, Status: metav1.ConditionTrue,
		Reason: d.Reason, ObservedGeneration: generation,
		Message: redact.Cut(d.Message+"; no data is read for this task: it is not verified, reopened or recovered while its facts disagree", maxMessage)})
	return !was
}

// RecordIgnoredResolution keeps the ResolutionIgnored condition in step
// with the owner's resolution and reports whether it is new.
func RecordIgnoredResolution(st *cxv1.ImprovementTaskStatus, s loop.Status, owner loop.Owner, generation int64) bool {
	msg, ahead := loop.ResolutionAhead(s, owner)
	if !ahead || s.Phase.Final() {
		meta.RemoveStatusCondition(&st.Conditions, cxv1.ConditionResolutionIgnored)
		return false
	}
	was := meta.IsStatusConditionTrue(st.Conditions, cxv1.ConditionResolutionIgnored)
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: cxv1.ConditionResolutionIgnored, Status: metav1.ConditionTrue,
		Reason: "AttemptAhead", ObservedGeneration: generation, Message: redact.Cut(msg, maxMessage)})
	return !was
}
