package engine_test

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	. "github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/source"
)

// level is an NPS level as promoter and detractor shares.
type level [2]float64

var (
	nps60 = level{0.70, 0.10}
	nps70 = level{0.75, 0.05}
	nps80 = level{0.85, 0.05}
)

// phase is a segment's level from a time on, perHour answers an hour
// (zero: the source's).
type phase struct {
	from    time.Time
	at      level
	perHour int
}

// levelled is a source of NPS answers, perHour an hour per segment,
// drawn deterministically, each segment at its own levels: the latest
// phase started at or before the hour, no answers before the first.
type levelled struct {
	perHour  int
	segments map[string][]phase
}

func (s *levelled) Query(_ context.Context, d measure.Definition, q source.Query, from, to time.Time) (*source.Result, error) {
	res := &source.Result{Overall: &measure.Stats{}, Segments: map[string]*source.Segment{}, Statement: "levelled"}
	only := ""
	for _, f := range q.Filters {
		if f.Column == "stage" {
			only = f.Values[0]
		}
	}
	for h := from.Truncate(time.Hour); h.Before(to); h = h.Add(time.Hour) {
		if h.Before(from) {
			continue
		}
		for seg, phases := range s.segments {
			if only != "" && seg != only {
				continue
			}
			var at *level
			n := s.perHour
			for i := range phases {
				if !h.Before(phases[i].from) {
					at = &phases[i].at
					if phases[i].perHour > 0 {
						n = phases[i].perHour
					}
				}
			}
			if at == nil {
				continue
			}
			foldAnswers(d, res, len(q.Segments) > 0, h, seg, n, *at)
		}
	}
	return res, nil
}

func (s *levelled) Check(context.Context) error { return nil }
func (s *levelled) Close() error                { return nil }

// relativeNPS is npsMetric held to no worse than maxChange below its
// baseline of 30 days.
func relativeNPS(maxChange float64) Metric {
	m := npsMetric(24*time.Hour, 30*24*time.Hour)
	m.Objective.Target, m.Objective.Relative, m.Objective.MinShift = nil, &Relative{MaxChange: maxChange}, 5
	m.BaselineWindow = 30 * 24 * time.Hour
	return m
}

// independent is the state before a first evaluation at at with the
// dispersion already measured as none, so that the threshold follows from
// the volume and the baselines alone.
func independent(m Metric, at time.Time) Prior {
	return Prior{DefinitionHash: m.Hash, Detector: &Detector{Calibration: &Calibration{CalibratedAt: at, Sigma: 60,
		VarianceInflation: 1, History: 365 * 24 * time.Hour}}}
}

// persist carries an evaluation's state through the Metric's status as
// the API server stores it.
func persist(t *testing.T, res *Evaluation) Prior {
	t.Helper()
	var status cxv1.MetricStatus
	metricspec.ApplyEvaluation(&status, &cxv1.MetricSpec{Formula: cxv1.FormulaNPS}, 1, res, nil)
	back := stored(t, status)
	return metricspec.PriorOf(&back)
}

// stored is status as the API server hands it back: through JSON.
func stored(t *testing.T, status cxv1.MetricStatus) cxv1.MetricStatus {
	t.Helper()
	raw, err := json.Marshal(status)
	if err != nil {
		t.Fatal(err)
	}
	var back cxv1.MetricStatus
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

func baselineOf(res *Evaluation, key string) (Baseline, bool) {
	for _, b := range res.SegmentBaselines {
		if b.Segment == key {
			return b.Baseline, true
		}
	}
	return Baseline{}, false
}

func episodeOf(res *Evaluation, key string) (Episode, bool) {
	for _, ep := range res.Episodes {
		if ep.Segment == key {
			return ep, true
		}
	}
	return Episode{}, false
}

// Under a relative objective each segment is judged against its own
// frozen baseline: a segment that has always sat at 60 opens nothing,
// though the population's baseline is about 70, while a segment dropping
// from 80 to 70 opens an episode whose task records its own baseline and
// reference. Carried through status, every evaluation equals the one
// carried in memory.
func TestEachSegmentIsJudgedAgainstItsOwnBaseline(t *testing.T) {
	ctx := context.Background()
	first := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	drop := first.Add(15 * 24 * time.Hour)
	src := &levelled{perHour: 6, segments: map[string][]phase{
		"steady":  {{time.Time{}, nps60, 0}},
		"falling": {{time.Time{}, nps80, 0}, {drop, nps70, 0}},
	}}
	m := relativeNPS(0)
	live := independent(m, first)
	persisted := live
	var opened *Episode
	for end := first; !end.After(drop.Add(45 * 24 * time.Hour)); end = end.Add(24 * time.Hour) {
		res, err := Evaluate(ctx, src, m, live, end)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Evaluate(ctx, src, m, persisted, end)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res.SegmentBaselines, back.SegmentBaselines) || !reflect.DeepEqual(res.Detector, back.Detector) ||
			!reflect.DeepEqual(res.Episodes, back.Episodes) {
			t.Fatalf("%s: restored state diverged:\nlive      %+v\npersisted %+v", end, res, back)
		}
		live, persisted = res.Prior(), persist(t, back)

		steady, ok := baselineOf(res, "stage=steady")
		falling, ok2 := baselineOf(res, "stage=falling")
		if !ok || !ok2 || math.Abs(steady.Value-60) > 4 || math.Abs(falling.Value-80) > 4 {
			t.Fatalf("%s: segment baselines %+v, want about 60 and 80", end, res.SegmentBaselines)
		}
		// Frozen on the window before the first evaluation's.
		for _, b := range []Baseline{steady, falling} {
			if !b.WindowEnd.Equal(first.Add(-m.Window)) || !b.WindowStart.Equal(first.Add(-m.Window-m.BaselineWindow)) {
				t.Fatalf("%s: baseline window [%s, %s), want the 30 days before the first window", end, b.WindowStart, b.WindowEnd)
			}
		}
		if res.Baseline == nil || math.Abs(res.Baseline.Value-70) > 4 {
			t.Fatalf("%s: the population's baseline %+v, want about 70", end, res.Baseline)
		}
		if ep, ok := episodeOf(res, "stage=steady"); ok {
			t.Fatalf("%s: the segment at its own level opened an episode: %+v", end, ep)
		}
		if ep, ok := episodeOf(res, "stage=falling"); ok && opened == nil {
			if end.Before(drop) {
				t.Fatalf("%s: the falling segment opened before its drop at %s", end, drop)
			}
			opened = &ep
		}
	}
	if opened == nil {
		t.Fatal("the segment dropping from 80 to 70 opened nothing")
	}
	falling, _ := baselineOf(&Evaluation{SegmentBaselines: live.SegmentBaselines}, "stage=falling")
	if opened.Objective.Target != falling.Value || opened.Baseline == nil || opened.Baseline.Value != falling.Value ||
		!opened.Baseline.WindowEnd.Equal(falling.WindowEnd) || opened.Baseline.Samples != falling.Samples {
		t.Fatalf("the falling segment's episode has objective %+v and baseline %+v, want its own baseline %+v",
			opened.Objective, opened.Baseline, falling)
	}

	// Verification of that task tests against the segment's reference, 80
	// − δ/2: a fix that changed nothing (the segment still at 70, the
	// population's baseline) is not proven, and the improvement is counted
	// from the segment's baseline.
	task := EpisodeTask(*opened)
	since := drop.Add(45 * 24 * time.Hour)
	deadline := since.Add(m.VerifyWindow)
	check, _, err := Verify(ctx, src, m, task, since, deadline, deadline, 4000)
	if err != nil {
		t.Fatal(err)
	}
	if check == nil || check.Outcome == loop.Proven {
		t.Fatalf("a fix that left the segment at 70 against its baseline of %v: %+v", falling.Value, check)
	}
	if want := 70 - falling.Value; math.Abs(check.Improvement.Value-want) > 4 {
		t.Fatalf("improvement %+v, want about %v from the segment's baseline", check.Improvement, want)
	}
}

// A baseline is measured on the latest window judged in control: a window
// in which the detector holds an episode open, the segment's own or the
// whole population's, is passed over for the one ending where that
// episode started. Another segment's episode does not matter.
func TestABaselineSkipsAWindowOutOfControl(t *testing.T) {
	ctx := context.Background()
	end := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	m := relativeNPS(0)
	windowStart := end.Add(-m.Window)
	drop := windowStart.Add(-20 * 24 * time.Hour)
	src := &levelled{perHour: 3, segments: map[string][]phase{
		"steady":  {{time.Time{}, nps60, 0}},
		"falling": {{time.Time{}, nps80, 0}, {drop, nps70, 0}},
	}}
	open := func(key string, at time.Time) SegmentState {
		return SegmentState{Segment: key, Statistic: 20, Samples: 500, Since: at, EpisodeStart: at}
	}
	overall := &Baseline{WindowStart: windowStart.Add(-m.BaselineWindow), WindowEnd: windowStart, Value: 70, Lower: 68, Upper: 72, Samples: 4000}
	steady := SegmentBaseline{Segment: "stage=steady", Baseline: Baseline{WindowStart: windowStart.Add(-m.BaselineWindow),
		WindowEnd: windowStart, Value: 60, Lower: 57, Upper: 63, Samples: 2000}}
	cases := []struct {
		name     string
		overall  *Baseline
		episodes []SegmentState
		// wantEnd is where the falling segment's (and, without a frozen
		// one, the population's) baseline window ends.
		wantEnd time.Time
		level   float64
	}{
		{"no episode open", overall, nil, windowStart, 0},
		{"the population's episode open", overall, []SegmentState{open("", drop)}, drop, 80},
		{"the segment's own episode open", overall, []SegmentState{open("stage=falling", drop)}, drop, 80},
		{"another segment's episode open", overall, []SegmentState{open("stage=steady", drop)}, windowStart, 0},
		{"the population's baseline measured while its episode is open", nil, []SegmentState{open("", drop)}, drop, 80},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prior := Prior{DefinitionHash: m.Hash, Baseline: c.overall, SegmentBaselines: []SegmentBaseline{steady},
				Detector: &Detector{FedUntil: end.Add(-24 * time.Hour), Segments: c.episodes,
					Calibration: independent(m, end).Detector.Calibration}}
			res, err := Evaluate(ctx, src, m, prior, end)
			if err != nil {
				t.Fatal(err)
			}
			falling, ok := baselineOf(res, "stage=falling")
			if !ok || !falling.WindowEnd.Equal(c.wantEnd) || !falling.WindowStart.Equal(c.wantEnd.Add(-m.BaselineWindow)) {
				t.Fatalf("falling segment's baseline %+v, want its window to end at %s", falling, c.wantEnd)
			}
			if c.level > 0 && math.Abs(falling.Value-c.level) > 4 {
				t.Fatalf("falling segment's baseline %v, want about %v from before the drop", falling.Value, c.level)
			}
			if c.level == 0 && !(falling.Value < 78) {
				t.Fatalf("falling segment's baseline %v, want the window before the current one, the drop in it", falling.Value)
			}
			if got, _ := baselineOf(res, "stage=steady"); got != steady.Baseline {
				t.Fatalf("the frozen baseline moved: %+v, want %+v", got, steady.Baseline)
			}
			if c.overall == nil && (res.Baseline == nil || !res.Baseline.WindowEnd.Equal(c.wantEnd)) {
				t.Fatalf("the population's baseline %+v, want its window to end at %s", res.Baseline, c.wantEnd)
			}
			if c.overall != nil && !reflect.DeepEqual(res.Baseline, c.overall) {
				t.Fatalf("the population's frozen baseline moved: %+v", res.Baseline)
			}
		})
	}
}

// A segment without a baseline (a new account, with no answers before
// the current window) is not judged: no value, state or detector
// evidence, no share of the false-task budget, and no episode however low
// it sits, until its baseline window holds objective.minSamples; from then
// on it is judged against its own level.
func TestANewSegmentIsNotJudgedBeforeItsBaseline(t *testing.T) {
	ctx := context.Background()
	first := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	joined := first.Add(5 * 24 * time.Hour)
	src := &levelled{perHour: 3, segments: map[string][]phase{
		"steady":   {{time.Time{}, nps60, 0}},
		"falling":  {{time.Time{}, nps80, 0}},
		"newcomer": {{joined, level{0.45, 0.25}, 1}},
	}}
	// Allowed 10 below its baseline, the population (about 70) stays
	// within bounds as the newcomer joins at a third of a segment's volume.
	m := relativeNPS(10)
	prior := independent(m, first)
	judgedFrom := time.Time{}
	for end := first; !end.After(joined.Add(80 * 24 * time.Hour)); end = end.Add(24 * time.Hour) {
		res, err := Evaluate(ctx, src, m, prior, end)
		if err != nil {
			t.Fatal(err)
		}
		prior = res.Prior()
		var out Outcome
		for _, s := range res.Segments {
			if s.Segment == "stage=newcomer" {
				out = s
			}
		}
		b, has := baselineOf(res, "stage=newcomer")
		evidence := false
		for _, s := range res.Detector.Segments {
			evidence = evidence || s.Segment == "stage=newcomer"
		}
		if ep, ok := episodeOf(res, "stage=newcomer"); ok {
			t.Fatalf("%s: the newcomer at 20 opened an episode against %v: %+v", end, ep.Objective.Target, ep)
		}
		if !has {
			if !judgedFrom.IsZero() {
				t.Fatalf("%s: the newcomer's baseline was lost", end)
			}
			if end.After(joined) && (out.Segment == "" || out.Value != nil || out.State != measure.StateInsufficientData || evidence ||
				res.Detector.SegmentsMonitored != 3) {
				t.Fatalf("%s: the newcomer without a baseline was judged: %+v, evidence %v, %d segments monitored",
					end, out, evidence, res.Detector.SegmentsMonitored)
			}
			continue
		}
		if judgedFrom.IsZero() {
			judgedFrom = end
			// The first baseline window holding minSamples of its answers.
			if b.WindowStart.After(joined) || !b.WindowEnd.Equal(end.Add(-m.Window)) || math.Abs(b.Value-20) > 30 {
				t.Fatalf("%s: the newcomer's baseline %+v, want about 20 from the window before the current one", end, b)
			}
		}
		if out.Value == nil || res.Detector.SegmentsMonitored != 4 {
			t.Fatalf("%s: the newcomer with a baseline is not judged: %+v, %d segments monitored", end, out, res.Detector.SegmentsMonitored)
		}
	}
	if judgedFrom.IsZero() || judgedFrom.Before(joined.Add(m.Window)) {
		t.Fatalf("the newcomer was judged from %s, want once a baseline window after it joined at %s holds its answers", judgedFrom, joined)
	}
}
