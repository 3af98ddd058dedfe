package metricspec

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
)

// PriorOf reads what a Metric's last evaluation left in its status.
func PriorOf(st *cxv1.MetricStatus) engine.Prior {
	p := engine.Prior{DefinitionHash: st.DefinitionHash, Samples: st.Samples, Detector: DetectorOf(st.Detector)}
	if b := st.Baseline; b != nil {
		p.Baseline = baselineOf(*b)
	}
	if st.EncodedSegmentBaselines != "" {
		// A hand-edited encoding that does not decode leaves the readable
		// list's baselines; the others are measured again when needed.
		if bs, err := DecodeSegmentBaselines(st.EncodedSegmentBaselines); err == nil {
			p.SegmentBaselines = bs
			return p
		}
	}
	for _, b := range st.SegmentBaselines {
		p.SegmentBaselines = append(p.SegmentBaselines, engine.SegmentBaseline{Segment: b.Segment, Baseline: *baselineOf(b.Baseline)})
	}
	sort.SliceStable(p.SegmentBaselines, func(i, j int) bool { return p.SegmentBaselines[i].Segment < p.SegmentBaselines[j].Segment })
	return p
}

func baselineOf(b cxv1.Baseline) *engine.Baseline {
	return &engine.Baseline{WindowStart: b.WindowStart.UTC(), WindowEnd: b.WindowEnd.UTC(), Value: b.Value,
		Lower: b.Lower, Upper: b.Upper, Samples: b.Samples}
}

// BaselineStatus renders a frozen baseline for status.
func BaselineStatus(b *engine.Baseline) *cxv1.Baseline {
	if b == nil {
		return nil
	}
	return &cxv1.Baseline{WindowStart: metav1.NewTime(b.WindowStart), WindowEnd: metav1.NewTime(b.WindowEnd), Value: b.Value,
		Lower: b.Lower, Upper: b.Upper, Samples: b.Samples}
}

// SegmentBaselinesStatus renders the segments' frozen baselines for
// status: every one encoded (EncodeSegmentBaselines), and readably those
// of the segments with the most evidence in det, at most
// MaxReadableDetectorSegments.
func SegmentBaselinesStatus(bs []engine.SegmentBaseline, det *engine.Detector) ([]cxv1.SegmentBaseline, string) {
	if len(bs) == 0 {
		return nil, ""
	}
	rank := map[string]int{}
	if det != nil {
		for i, s := range worstEvidence(det.Segments, len(det.Segments)) {
			rank[s.Segment] = i + 1
		}
	}
	shown := append([]engine.SegmentBaseline(nil), bs...)
	sort.SliceStable(shown, func(i, j int) bool {
		a, b := rank[shown[i].Segment], rank[shown[j].Segment]
		if (a > 0) != (b > 0) {
			return a > 0
		}
		if a != b {
			return a < b
		}
		return shown[i].Segment < shown[j].Segment
	})
	if len(shown) > cxv1.MaxReadableDetectorSegments {
		shown = shown[:cxv1.MaxReadableDetectorSegments]
	}
	sort.Slice(shown, func(i, j int) bool { return shown[i].Segment < shown[j].Segment })
	out := make([]cxv1.SegmentBaseline, 0, len(shown))
	for _, b := range shown {
		out = append(out, cxv1.SegmentBaseline{Segment: b.Segment, Baseline: *BaselineStatus(&b.Baseline)})
	}
	return out, EncodeSegmentBaselines(bs)
}

// TaskOf reads what verification needs of a task: its facts, and its
// current attempt, whose share of the error level a verification spends.
func TaskOf(t *cxv1.ImprovementTask) engine.Task {
	s := &t.Spec
	out := engine.Task{Segment: s.Segment, SegmentValues: s.SegmentValues, EpisodeStart: s.EpisodeStart.Time,
		Objective: engine.TaskObjective{Direction: engine.Direction(s.Objective.Direction), Target: s.Objective.Target,
			MinShift: s.Objective.MinShift}}
	if s.Evidence != nil {
		out.ObservedValue = s.Evidence.ObservedValue
	}
	if b := s.Baseline; b != nil {
		out.Baseline = &engine.TaskBaseline{Value: b.Value, Lower: b.Lower, Upper: b.Upper, Samples: b.Samples,
			WindowStart: b.WindowStart.Time, WindowEnd: b.WindowEnd.Time}
	}
	out.Attempt = t.Status.Attempt
	return out
}

// The labels of a task: its Metric, and its current team.
const (
	LabelMetric = "cxloop.dev/metric"
	LabelTeam   = "cxloop.dev/team"
)

// TaskObject is the ImprovementTask to create for a planned task. Its
// metric label is LabelValue of the Metric's name, which may be longer
// than a label value can be. The team label is set only when the team's
// name is a valid label value as it stands: the task reconciler keeps that
// label naming the current team and removes it for a name that cannot be
// one, so a shortened name would not survive the task's first reconcile.
func TaskObject(m engine.Metric, nt engine.NewTask) *cxv1.ImprovementTask {
	ep := nt.Episode
	due := metav1.NewTime(nt.DueDate)
	team := cmp.Or(nt.Team, m.Team)
	labels := map[string]string{LabelMetric: LabelValue(m.Name)}
	if len(validation.IsValidLabelValue(team)) == 0 {
		labels[LabelTeam] = team
	}
	t := &cxv1.ImprovementTask{
		ObjectMeta: metav1.ObjectMeta{Name: nt.Name, Namespace: m.Namespace, Labels: labels},
		Spec: cxv1.ImprovementTaskSpec{
			Metric: m.Name, Segment: ep.Segment, SegmentValues: ep.Values, Team: team,
			EpisodeStart: metav1.NewTime(ep.Start), DefinitionHash: m.Hash,
			Objective: cxv1.TaskObjective{Direction: cxv1.Direction(ep.Objective.Direction), Target: ep.Objective.Target,
				MinShift: ep.Objective.MinShift},
			Evidence: &cxv1.TaskEvidence{Statistic: ep.Evidence.Statistic, Threshold: ep.Evidence.Threshold,
				Samples: ep.Evidence.Samples, ObservedValue: ep.Evidence.ObservedValue},
			Priority: nt.Priority, DueDate: &due, Playbook: m.Policy.Playbook, State: cxv1.TaskOpen,
		},
	}
	if b := ep.Baseline; b != nil {
		t.Spec.Baseline = &cxv1.TaskBaseline{Value: b.Value, Lower: b.Lower, Upper: b.Upper, Samples: b.Samples,
			WindowStart: metav1.NewTime(b.WindowStart), WindowEnd: metav1.NewTime(b.WindowEnd)}
	}
	return t
}

// MeasurementStatus renders a look at a task's fresh data.
func MeasurementStatus(m *engine.Measurement) *cxv1.TaskMeasurement {
	if m == nil {
		return nil
	}
	return &cxv1.TaskMeasurement{Time: metav1.NewTime(m.Time), Samples: m.Samples, Value: m.Value, Lower: m.Lower, Upper: m.Upper}
}

// TimeRef is a status time, nil for the zero time.
func TimeRef(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t)
	return &mt
}

func timeOf(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time.UTC()
}

// maxLabelValue is the longest label value Kubernetes accepts.
const maxLabelValue = validation.LabelValueMaxLength

// LabelValue returns v as a Kubernetes label value: v itself when it is
// one, otherwise v with every character outside [A-Za-z0-9-_.] (invalid
// UTF-8 included) replaced by '_', cut so that it starts and ends with an
// alphanumeric, and suffixed with a hash of v so that distinct values stay
// distinct. The result is at most 63 characters and always valid.
func LabelValue(v string) string {
	return fitLabel(v, true)
}

// MetricsLabelValue returns v as a Prometheus label value: v itself when
// it is valid UTF-8 of at most 63 bytes, otherwise v with invalid bytes
// replaced and shortened the way LabelValue shortens, hash suffix
// included. A Metric's or team's name, which is a valid label value but
// for its length, comes out exactly as LabelValue gives it, so gauges and
// task labels name a long Metric alike; and every series stays bounded
// whatever the data's segment values are.
func MetricsLabelValue(v string) string {
	return fitLabel(v, false)
}

// fitLabel is LabelValue when strict, MetricsLabelValue otherwise.
func fitLabel(v string, strict bool) string {
	if len(v) <= maxLabelValue && utf8.ValidString(v) && (!strict || len(validation.IsValidLabelValue(v)) == 0) {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	suffix := hex.EncodeToString(sum[:])[:10]
	var clean string
	if strict {
		clean = strings.Map(func(r rune) rune {
			if r < utf8.RuneSelf && (r == '-' || r == '_' || r == '.' || isAlnum(byte(r))) {
				return r
			}
			return '_'
		}, strings.ToValidUTF8(v, "_"))
	} else {
		clean = strings.ToValidUTF8(v, "\uFFFD")
	}
	prefix := clean
	if room := maxLabelValue - len(suffix) - 1; len(prefix) > room {
		for room > 0 && !utf8.RuneStart(prefix[room]) {
			room--
		}
		prefix = prefix[:room]
	}
	if strict {
		prefix = strings.TrimFunc(prefix, func(r rune) bool { return r >= utf8.RuneSelf || !isAlnum(byte(r)) })
	}
	if prefix == "" {
		return suffix
	}
	return prefix + "-" + suffix
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
