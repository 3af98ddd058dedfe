package engine_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	. "github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// unit is one recorded unit of a units source.
type unit struct {
	at            time.Time
	seg           string
	score, weight float64
}

// units is a source over recorded units that counts each one whose time
// lies in [from, to) and records the spans asked of it.
type units struct {
	all   []unit
	asked *[][2]time.Time
}

func (us units) Query(_ context.Context, d measure.Definition, q source.Query, from, to time.Time) (*source.Result, error) {
	if us.asked != nil {
		*us.asked = append(*us.asked, [2]time.Time{from, to})
	}
	return fold(d, us.all, func(u unit) bool { return !u.at.Before(from) && u.at.Before(to) }), nil
}
func (units) Check(context.Context) error { return nil }
func (units) Close() error                { return nil }

// fold counts the units keep accepts, per segment "stage".
func fold(d measure.Definition, all []unit, keep func(unit) bool) *source.Result {
	res := &source.Result{Overall: &measure.Stats{}, Segments: map[string]*source.Segment{}, Statement: "units"}
	for _, u := range all {
		if !keep(u) {
			continue
		}
		row := measure.Row{Value: u.score, Valid: true, Weight: u.weight}
		d.Fold(res.Overall, row)
		values := map[string]string{"stage": u.seg}
		key := source.SegmentKey(values)
		s, ok := res.Segments[key]
		if !ok {
			s = &source.Segment{Key: key, Values: values, Stats: &measure.Stats{}}
			res.Segments[key] = s
		}
		d.Fold(s.Stats, row)
	}
	return res
}

// recorded is a unit every 13 minutes from start to end, with scores
// 0..10 and fractional weights, in three segments.
func recorded(start, end time.Time) []unit {
	var out []unit
	for i, t := 0, start; t.Before(end); i, t = i+1, t.Add(13*time.Minute) {
		out = append(out, unit{at: t, seg: fmt.Sprintf("s%d", i%3), score: float64(i % 11), weight: 0.5 + float64(i%7)/3})
	}
	return out
}

func within(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b))
}

// sameStats says how got differs from want: counts exactly, sums within
// 1e-12 relative.
func sameStats(got, want *measure.Stats) error {
	cells := func(what string, g, w measure.Cell) error {
		if g.N != w.N || !within(g.W, w.W) || !within(g.W2, w.W2) {
			return fmt.Errorf("%s %+v, want %+v", what, g, w)
		}
		return nil
	}
	if err := cells("total", got.Total, want.Total); err != nil {
		return err
	}
	if err := cells("unrated", got.Unrated, want.Unrated); err != nil {
		return err
	}
	if len(got.Scores) != len(want.Scores) {
		return fmt.Errorf("scores %v, want %v", got.Scores, want.Scores)
	}
	for k, w := range want.Scores.All() {
		if err := cells(fmt.Sprintf("score %d", k), got.Scores.Get(k), w); err != nil {
			return err
		}
	}
	g, w := got.Moments, want.Moments
	if !within(g.SumWX, w.SumWX) || !within(g.SumWX2, w.SumWX2) || (want.Total.N > 0 && (g.Min != w.Min || g.Max != w.Max)) {
		return fmt.Errorf("moments %+v, want %+v", g, w)
	}
	return nil
}

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func TestExcludeFromLeavesOutExactlyTheExcludedTime(t *testing.T) {
	berlin, newYork := zone(t, "Europe/Berlin"), zone(t, "America/New_York")
	day := func(loc *time.Location, y int, m time.Month, d, h int) time.Time {
		return time.Date(y, m, d, h, 0, 0, 0, loc)
	}
	all := recorded(day(time.UTC, 2025, 11, 1, 0), day(time.UTC, 2027, 5, 1, 0))
	type spans [][2]time.Time
	cases := []struct {
		name       string
		loc        *time.Location
		exclusions []Exclusion
		from, to   time.Time
		// want are the excluded spans, written out by hand in local time.
		want spans
	}{
		{"one-off", time.UTC,
			[]Exclusion{{Name: "outage", Start: day(time.UTC, 2026, 3, 10, 6), End: day(time.UTC, 2026, 3, 12, 18).Add(30 * time.Minute)}},
			day(time.UTC, 2026, 3, 1, 0), day(time.UTC, 2026, 4, 1, 0),
			spans{{day(time.UTC, 2026, 3, 10, 6), day(time.UTC, 2026, 3, 12, 18).Add(30 * time.Minute)}}},
		{"overlapping one-offs merge", time.UTC,
			[]Exclusion{{Name: "a", Start: day(time.UTC, 2026, 3, 10, 0), End: day(time.UTC, 2026, 3, 12, 0)},
				{Name: "b", Start: day(time.UTC, 2026, 3, 11, 0), End: day(time.UTC, 2026, 3, 13, 0)}},
			day(time.UTC, 2026, 3, 1, 0), day(time.UTC, 2026, 4, 1, 0),
			spans{{day(time.UTC, 2026, 3, 10, 0), day(time.UTC, 2026, 3, 13, 0)}}},
		// Summer time starts in Berlin on 29 March 2026: the weekend of
		// 28 March is an hour shorter, and still Saturday to Monday.
		{"weekly weekends in Berlin across a daylight-saving change", berlin,
			[]Exclusion{{Name: "weekend", Start: day(berlin, 2026, 3, 14, 0), End: day(berlin, 2026, 3, 16, 0), Recurrence: RecurrenceWeekly}},
			day(berlin, 2026, 3, 15, 12), day(berlin, 2026, 4, 12, 0),
			spans{{day(berlin, 2026, 3, 15, 12), day(berlin, 2026, 3, 16, 0)}, {day(berlin, 2026, 3, 21, 0), day(berlin, 2026, 3, 23, 0)},
				{day(berlin, 2026, 3, 28, 0), day(berlin, 2026, 3, 30, 0)}, {day(berlin, 2026, 4, 4, 0), day(berlin, 2026, 4, 6, 0)},
				{day(berlin, 2026, 4, 11, 0), day(berlin, 2026, 4, 12, 0)}}},
		// Yearly from a winter noon to a summer noon: the occurrence a
		// year later keeps both wall-clock times.
		{"yearly in Berlin across a daylight-saving change", berlin,
			[]Exclusion{{Name: "spring-sale", Start: day(berlin, 2026, 3, 1, 12), End: day(berlin, 2026, 4, 1, 12), Recurrence: RecurrenceYearly}},
			day(berlin, 2027, 2, 20, 0), day(berlin, 2027, 4, 10, 0),
			spans{{day(berlin, 2027, 3, 1, 12), day(berlin, 2027, 4, 1, 12)}}},
		{"yearly holidays in New York", newYork,
			[]Exclusion{{Name: "holidays", Start: day(newYork, 2025, 12, 24, 0), End: day(newYork, 2025, 12, 27, 0), Recurrence: RecurrenceYearly}},
			day(time.UTC, 2025, 12, 1, 0), day(time.UTC, 2027, 1, 10, 0),
			spans{{day(newYork, 2025, 12, 24, 0), day(newYork, 2025, 12, 27, 0)}, {day(newYork, 2026, 12, 24, 0), day(newYork, 2026, 12, 27, 0)}}},
		{"a range wholly excluded", time.UTC,
			[]Exclusion{{Name: "outage", Start: day(time.UTC, 2026, 3, 10, 0), End: day(time.UTC, 2026, 3, 20, 0)}},
			day(time.UTC, 2026, 3, 11, 0), day(time.UTC, 2026, 3, 12, 0),
			spans{{day(time.UTC, 2026, 3, 11, 0), day(time.UTC, 2026, 3, 12, 0)}}},
		{"an exclusion before the first occurrence's start is not repeated backwards", time.UTC,
			[]Exclusion{{Name: "weekend", Start: day(time.UTC, 2026, 3, 14, 0), End: day(time.UTC, 2026, 3, 16, 0), Recurrence: RecurrenceWeekly}},
			day(time.UTC, 2026, 3, 1, 0), day(time.UTC, 2026, 3, 15, 0),
			spans{{day(time.UTC, 2026, 3, 14, 0), day(time.UTC, 2026, 3, 15, 0)}}},
	}
	defs := []measure.Definition{
		{Formula: measure.FormulaNPS, DetractorMax: 6, PromoterMin: 9},
		{Formula: measure.FormulaMean},
	}
	for _, c := range cases {
		for _, d := range defs {
			t.Run(c.name+"/"+string(d.Formula), func(t *testing.T) {
				m := Metric{Name: "m", Location: c.loc, Exclusions: c.exclusions, Durations: Durations{Interval: 24 * time.Hour}}
				got, err := ExcludeFrom(units{all: all}, m).Query(context.Background(), d, source.Query{}, c.from, c.to)
				if err != nil {
					t.Fatal(err)
				}
				excluded := func(u unit) bool {
					for _, s := range c.want {
						if !u.at.Before(s[0]) && u.at.Before(s[1]) {
							return true
						}
					}
					return false
				}
				want := fold(d, all, func(u unit) bool { return !u.at.Before(c.from) && u.at.Before(c.to) && !excluded(u) })
				if err := sameStats(got.Overall, want.Overall); err != nil {
					t.Fatalf("overall: %v", err)
				}
				if len(got.Segments) != len(want.Segments) {
					t.Fatalf("%d segments, want %d", len(got.Segments), len(want.Segments))
				}
				for key, w := range want.Segments {
					g, ok := got.Segments[key]
					if !ok {
						t.Fatalf("segment %q missing", key)
					}
					if err := sameStats(g.Stats, w.Stats); err != nil {
						t.Fatalf("segment %q: %v", key, err)
					}
				}
				// The test must be able to fail: the excluded time held units.
				if all := fold(d, all, func(u unit) bool { return !u.at.Before(c.from) && u.at.Before(c.to) }); all.Overall.Total.N == want.Overall.Total.N {
					t.Fatalf("nothing excluded: the case proves nothing")
				}
			})
		}
	}
}

func TestExcludeFromWithoutExclusionsIsTheSource(t *testing.T) {
	var asked [][2]time.Time
	src := &units{asked: &asked}
	m := Metric{Location: time.UTC}
	if got := ExcludeFrom(src, m); got != source.Source(src) {
		t.Fatalf("a metric without exclusions wraps its source")
	}
	// Wrapping twice cuts the time out once, with the latest exclusions.
	start := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	m.Exclusions = []Exclusion{{Name: "a", Start: start, End: start.Add(24 * time.Hour)}}
	twice := ExcludeFrom(ExcludeFrom(src, m), m)
	if _, err := twice.Query(context.Background(), measure.Definition{Formula: measure.FormulaMean}, source.Query{}, start.Add(-48*time.Hour), start.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	want := [][2]time.Time{{start.Add(-48 * time.Hour), start}, {start.Add(24 * time.Hour), start.Add(48 * time.Hour)}}
	if fmt.Sprint(asked) != fmt.Sprint(want) {
		t.Fatalf("asked %v, want %v", asked, want)
	}
}

func TestExclusionAtNamesTheOccurrenceOfTheLatestInterval(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	sat := time.Date(2026, 3, 14, 0, 0, 0, 0, berlin)
	m := Metric{Location: berlin, Durations: Durations{Interval: 24 * time.Hour},
		Exclusions: []Exclusion{{Name: "weekend", Reason: "no support on weekends", Start: sat, End: sat.AddDate(0, 0, 2), Recurrence: RecurrenceWeekly}}}
	cases := []struct {
		end  time.Time
		want *Occurrence
	}{
		{time.Date(2026, 3, 28, 0, 0, 0, 0, berlin), nil},
		{time.Date(2026, 3, 29, 0, 0, 0, 0, berlin), &Occurrence{Name: "weekend", Reason: "no support on weekends",
			Start: time.Date(2026, 3, 28, 0, 0, 0, 0, berlin), End: time.Date(2026, 3, 30, 0, 0, 0, 0, berlin)}},
		{time.Date(2026, 3, 30, 0, 0, 0, 0, berlin), &Occurrence{Name: "weekend", Reason: "no support on weekends",
			Start: time.Date(2026, 3, 28, 0, 0, 0, 0, berlin), End: time.Date(2026, 3, 30, 0, 0, 0, 0, berlin)}},
		{time.Date(2026, 3, 31, 0, 0, 0, 0, berlin), nil},
	}
	for _, c := range cases {
		got, ok := m.ExclusionAt(c.end)
		switch {
		case c.want == nil && ok:
			t.Errorf("at %s: %+v, want none", c.end, got)
		case c.want != nil && (!ok || got.Name != c.want.Name || !got.Start.Equal(c.want.Start) || !got.End.Equal(c.want.End) || got.Reason != c.want.Reason):
			t.Errorf("at %s: %+v (%v), want %+v", c.end, got, ok, *c.want)
		}
	}
}

func TestEvaluateLeavesAnExcludedDropOut(t *testing.T) {
	end := time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC)
	drop := end.Add(-5 * 24 * time.Hour)
	src := func() *synthetic {
		return &synthetic{perHour: 20, segments: []string{"all"}, before: [2]float64{0.45, 0.15}, after: [2]float64{0.25, 0.35},
			change: map[string]time.Time{"all": drop}, restore: map[string]time.Time{"all": drop.Add(3 * 24 * time.Hour)}}
	}
	run := func(m Metric) (prior Prior, last *Evaluation) {
		for e := end.Add(-20 * 24 * time.Hour); !e.After(end); e = e.Add(24 * time.Hour) {
			res, err := Evaluate(context.Background(), src(), m, prior, e)
			if err != nil {
				t.Fatal(err)
			}
			prior, last = res.Prior(), res
		}
		return prior, last
	}
	m := npsMetric(24*time.Hour, 7*24*time.Hour)
	m.Query.Segments = nil
	if _, last := run(m); len(last.Episodes) == 0 {
		t.Fatalf("the drop opened no episode without an exclusion: the test proves nothing")
	}
	m.Exclusions = []Exclusion{{Name: "outage", Start: drop, End: drop.Add(3 * 24 * time.Hour)}}
	_, last := run(m)
	if len(last.Episodes) != 0 {
		t.Fatalf("the excluded drop opened episodes %+v", last.Episodes)
	}
	if last.Exclusion != nil {
		t.Fatalf("the last interval is not excluded, status names %+v", last.Exclusion)
	}
	in, err := Evaluate(context.Background(), src(), m, Prior{}, drop.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if in.Exclusion == nil || in.Exclusion.Name != "outage" || !in.Exclusion.End.Equal(drop.Add(3*24*time.Hour)) {
		t.Fatalf("an evaluation inside the exclusion reports %+v", in.Exclusion)
	}
}

func TestTheFeedMovesPastALongExclusion(t *testing.T) {
	// Hourly, so a five-day exclusion is longer than one evaluation feeds.
	m := npsMetric(time.Hour, 24*time.Hour)
	m.Query.Segments = nil
	start := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	m.Exclusions = []Exclusion{{Name: "outage", Start: start, End: start.Add(5 * 24 * time.Hour)}}
	src := &synthetic{perHour: 20, segments: []string{"all"}, before: [2]float64{0.45, 0.15}}
	var prior Prior
	for _, e := range []time.Time{start, start.Add(24 * time.Hour), start.Add(5*24*time.Hour + 3*time.Hour)} {
		res, err := Evaluate(context.Background(), src, m, prior, e)
		if err != nil {
			t.Fatal(err)
		}
		prior = res.Prior()
	}
	if prior.Detector == nil || prior.Detector.FedUntil.Before(start.Add(5*24*time.Hour+3*time.Hour)) {
		t.Fatalf("the detector is fed until %v, want the data after the exclusion", prior.Detector)
	}
}
