package engine

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/source"
)

// Prior is what the last evaluation of a metric left behind, as persisted
// in its status.
type Prior struct {
	// DefinitionHash is the hash the state was computed under; a different
	// hash resets the baseline and the detector.
	DefinitionHash string
	Baseline       *Baseline
	// SegmentBaselines are the segments' own frozen baselines, by key.
	SegmentBaselines []SegmentBaseline
	Detector         *Detector
	// Samples is the last window's sample count.
	Samples int64
}

// Baseline is a frozen reference window.
type Baseline struct {
	WindowStart, WindowEnd time.Time
	Value, Lower, Upper    float64
	Samples                int64
}

// Detector is the change detector's persisted state, canonical: numbers
// rounded to six significant digits and times to the second, as status
// keeps them, so stepping from a restored state equals stepping on.
type Detector struct {
	// FedUntil is the end of the data already fed; zero before the first.
	FedUntil          time.Time
	Threshold         float64
	SegmentsMonitored int32
	DetectableShift   *float64
	// DetectableShiftMedianSegment and DetectableShiftSmallestSegment are
	// DetectableShift at the median and the smallest segment's volume.
	DetectableShiftMedianSegment, DetectableShiftSmallestSegment *float64
	DetectionHorizon                                             string
	ExpectedDelay                                                string
	// Segments hold the state of every segment with evidence, sorted by
	// key: none is dropped (keepEvidence).
	Segments []SegmentState
	// Calibration is the metric's measured dispersion; nil before the
	// first calibration.
	Calibration *Calibration
}

// Calibration is a detector's measured dispersion (detect.Calibration),
// persisted with when it was measured.
type Calibration struct {
	// CalibratedAt is the end of the window whose preceding history it
	// was measured on.
	CalibratedAt time.Time
	// Sigma is the pooled standard deviation of one contribution.
	Sigma float64
	// Dispersion is the level's long-run variance per interval beyond
	// sampling noise, and DispersionError its standard error.
	Dispersion, DispersionError float64
	// VarianceInflation is how many times the variance of the whole
	// population's interval mean exceeds σ²/n at its typical volume.
	VarianceInflation float64
	// CorrelationTime is the mood's correlation time; History the span
	// of history measured.
	CorrelationTime, History time.Duration
	// Calibrating is true while the history is too short to trust alone.
	Calibrating bool
	// WindowValues are the whole population's values in the latest closed
	// windows, oldest first (metrics judged on tumbling windows): their
	// spread is the standard error a window's value is judged with when the
	// formula's own says less.
	WindowValues []float64
}

func (c *Calibration) detect() *detect.Calibration {
	if c == nil {
		return nil
	}
	return &detect.Calibration{Sigma: c.Sigma, Dispersion: c.Dispersion, DispersionError: c.DispersionError, CorrelationTime: c.CorrelationTime,
		History: c.History, Calibrating: c.Calibrating}
}

// SegmentState is one segment's detector state.
type SegmentState struct {
	Segment       string
	Statistic     float64
	Samples       float64
	Since         time.Time
	EpisodeStart  time.Time
	Recovery      float64
	RecoverySince time.Time
}

// Open reports whether the segment holds an episode open.
func (s SegmentState) Open() bool { return !s.EpisodeStart.IsZero() }

// Episode returns the segment's state, if it has any.
func (d *Detector) Episode(segment string, start time.Time) (SegmentState, bool) {
	if d == nil {
		return SegmentState{}, false
	}
	for _, s := range d.Segments {
		if s.Segment == segment && s.Open() && s.EpisodeStart.Equal(start) {
			return s, true
		}
	}
	return SegmentState{}, false
}

// detectState turns a persisted detector into the CUSUM's working state.
func (d *Detector) detectState() (detect.State, time.Time) {
	st := detect.State{}
	if d == nil {
		return st, time.Time{}
	}
	for _, s := range d.Segments {
		st[s.Segment] = detect.SegmentState{Statistic: s.Statistic, Samples: s.Samples, Since: s.Since,
			EpisodeStart: s.EpisodeStart, Recovery: s.Recovery, RecoverySince: s.RecoverySince}
	}
	return st, d.FedUntil
}

// keepEvidence checks that the detector's state, every segment with
// evidence, fits the query's bound on segments (source.MaxSegments when
// unset, the manager's --max-segments): a segment that left the data keeps
// its evidence, so the state can outgrow any one window. Past the bound
// the evaluation is rejected TooManySegments rather than any evidence
// dropped; the whole population does not count against it.
func keepEvidence(st detect.State, q source.Query) error {
	limit := q.MaxSegments
	if limit <= 0 {
		limit = source.MaxSegments
	}
	n := len(st)
	if _, ok := st[""]; ok {
		n--
	}
	if n > limit {
		return &RejectedError{Reason: ReasonTooManySegments, Err: fmt.Errorf(
			"%w: %d segments hold the detector's evidence, more than %d (--max-segments): segment by columns with fewer distinct values, or raise the manager's --max-segments",
			source.ErrTooManySegments, n, limit)}
	}
	return nil
}

// segmentsOf renders a working state canonically, sorted by key.
func segmentsOf(st detect.State) []SegmentState {
	keys := make([]string, 0, len(st))
	for k := range st {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]SegmentState, 0, len(keys))
	for _, k := range keys {
		s := st[k]
		out = append(out, SegmentState{Segment: k, Statistic: Round(s.Statistic), Samples: Round(s.Samples),
			Since: second(s.Since), EpisodeStart: second(s.EpisodeStart), Recovery: Round(s.Recovery),
			RecoverySince: second(s.RecoverySince)})
	}
	return out
}

// Round keeps persisted values readable and stable: six significant
// digits.
func Round(f float64) float64 {
	if f == 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return f
	}
	mag := math.Pow(10, 5-math.Floor(math.Log10(math.Abs(f))))
	return math.Round(f*mag) / mag
}

// second truncates a time to the second, the precision status keeps, in
// UTC, as status reads it back.
func second(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Truncate(time.Second).UTC()
}

func ptr(f float64) *float64 { return &f }
