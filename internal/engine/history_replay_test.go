package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/cxloop/cxloop/internal/engine"

	"github.com/cxloop/cxloop/internal/demodata"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// warehouseOnce writes one small demo warehouse for the package's tests.
var warehouseOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "cxloop-engine-")
	if err != nil {
		return "", err
	}
	sc := demodata.DefaultScript()
	sc.Scale = 0.25
	_, err = demodata.Generate(filepath.Join(dir, "warehouse.db"), sc)
	return dir, err
})

func openWarehouse(t *testing.T) source.Source {
	t.Helper()
	dir, err := warehouseOnce()
	if err != nil {
		t.Fatal(err)
	}
	src, err := source.OpenSQLite(source.SQLiteConfig{Path: "warehouse.db", Roots: []string{dir}, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// plain hides a source's history: every read is one query per range.
type plain struct{ source.Source }

// counting counts the round trips asked of a source, as a history
// source: its histories are the source's own when it answers them, else
// one query per interval underneath, counted as the one round trip asked.
type counting struct {
	source.Source
	// perInterval answers histories one query per interval underneath
	// even when the driver has its own: what is counted is the same.
	perInterval        bool
	queries, histories atomic.Int64
	mu                 sync.Mutex
	keys               map[string]bool
}

func (c *counting) Query(ctx context.Context, d measure.Definition, q source.Query, from, to time.Time) (*source.Result, error) {
	c.queries.Add(1)
	return c.Source.Query(ctx, d, q, from, to)
}

func (c *counting) QueryHistory(ctx context.Context, d measure.Definition, q source.Query, bounds []time.Time) ([]*source.Result, error) {
	c.histories.Add(1)
	b, _ := json.Marshal(q)
	c.mu.Lock()
	if c.keys == nil {
		c.keys = map[string]bool{}
	}
	c.keys[d.Hash()+string(b)] = true
	c.mu.Unlock()
	if c.perInterval {
		return source.History(ctx, plain{c.Source}, d, q, bounds)
	}
	return source.History(ctx, c.Source, d, q, bounds)
}

// warehouseCSAT is the demo's support CSAT, daily, by stage.
func warehouseCSAT(loc *time.Location) Metric {
	target := 85.0
	def := measure.Definition{Formula: measure.FormulaCSAT, ScaleMin: 1, ScaleMax: 5, SatisfiedMin: 4, Source: "warehouse"}
	return Metric{Namespace: "cx", Name: "support-csat", UID: "uid-csat", Team: "support", Definition: def, Hash: def.Hash(),
		Query: source.Query{Table: "survey_responses", Value: "score", Time: "responded_at", Segments: []string{"stage"},
			Filters: []source.Filter{{Column: "survey", Operator: source.Equals, Values: []string{"csat"}}}},
		Durations: Durations{Window: 28 * 24 * time.Hour, Interval: 24 * time.Hour, VerifyWindow: 14 * 24 * time.Hour,
			DueAfter: 336 * time.Hour, Retention: 2160 * time.Hour},
		Location:  loc,
		Objective: Objective{Direction: AtLeast, Target: &target, Confidence: 0.95, MinSamples: 50, MinShift: 4, Budget: 0.05},
		Policy:    Policy{MinFreshSamples: 30, MaxAttempts: 2, MaxOpenTasks: 5}}
}

// closeTo compares two values field by field: counts and strings exactly,
// floats within 1e-9 of the larger magnitude (the merged buckets' sums
// differ from one query's in the last bits, and the engine rounds what it
// reports), the statement as run aside.
func closeTo(path string, got, want reflect.Value) error {
	switch got.Kind() {
	case reflect.Pointer, reflect.Interface:
		if got.IsNil() || want.IsNil() {
			if got.IsNil() != want.IsNil() {
				return fmt.Errorf("%s: %v, want %v", path, got, want)
			}
			return nil
		}
		return closeTo(path, got.Elem(), want.Elem())
	case reflect.Struct:
		if got.Type() == reflect.TypeOf(time.Time{}) {
			if !got.Interface().(time.Time).Equal(want.Interface().(time.Time)) {
				return fmt.Errorf("%s: %v, want %v", path, got, want)
			}
			return nil
		}
		for i := 0; i < got.NumField(); i++ {
			f := got.Type().Field(i)
			if f.Name == "Query" && f.Type.Kind() == reflect.String || !f.IsExported() {
				continue
			}
			if err := closeTo(path+"."+f.Name, got.Field(i), want.Field(i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice, reflect.Array:
		if got.Len() != want.Len() {
			return fmt.Errorf("%s: %d elements, want %d", path, got.Len(), want.Len())
		}
		for i := 0; i < got.Len(); i++ {
			if err := closeTo(fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		if got.Len() != want.Len() {
			return fmt.Errorf("%s: %d entries, want %d", path, got.Len(), want.Len())
		}
		for _, k := range want.MapKeys() {
			g := got.MapIndex(k)
			if !g.IsValid() {
				return fmt.Errorf("%s[%v]: missing", path, k)
			}
			if err := closeTo(fmt.Sprintf("%s[%v]", path, k), g, want.MapIndex(k)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Float64, reflect.Float32:
		a, b := got.Float(), want.Float()
		if a != b && !(math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))) {
			return fmt.Errorf("%s: %v, want %v", path, a, b)
		}
		return nil
	default:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			return fmt.Errorf("%s: %v, want %v", path, got, want)
		}
		return nil
	}
}

// A replay over a history source reads each query's interval buckets
// once and merges them for every window, baseline, calibration step and
// interval of the feed: the same timeline, the same last evaluation as
// one query per read, in one history per query instead of a query per
// interval.
func TestReplayOverAHistoryReadsEachQueryOnce(t *testing.T) {
	ctx := context.Background()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	t0 := demodata.DefaultT0
	from, to := t0.AddDate(0, 0, -30), t0.AddDate(0, 0, 45)
	base := 60 * 24 * time.Hour
	for _, tc := range []struct {
		name   string
		metric func() Metric
		// direct is whether windows go to the source all the same.
		direct bool
		// perInterval: the driver's clustered histories are its own
		// tests' to prove and time (history_sql_test.go); this one
		// counts what the replay asks.
		perInterval bool
	}{
		{"daily in UTC", func() Metric { return warehouseCSAT(time.UTC) }, false, false},
		{"daily in Berlin, across daylight saving", func() Metric { return warehouseCSAT(berlin) }, false, false},
		{"relative objective", func() Metric {
			m := warehouseCSAT(time.UTC)
			m.Objective.Target = nil
			m.Objective.Relative = &Relative{MaxChange: 1}
			m.BaselineWindow = base
			return m
		}, false, false},
		{"an exclusion off the grid", func() Metric {
			m := warehouseCSAT(time.UTC)
			m.Exclusions = []Exclusion{{Name: "outage", Start: t0.AddDate(0, 0, 20).Add(6 * time.Hour),
				End: t0.AddDate(0, 0, 22).Add(18 * time.Hour)}}
			return m
		}, true, false},
		{"clustered by account", func() Metric {
			m := warehouseCSAT(time.UTC)
			m.Query.Cluster = "account"
			return m
		}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.metric()
			opts := ReplayOptions{ResolveAfter: 7 * 24 * time.Hour}
			want, err := Replay(ctx, plain{openWarehouse(t)}, m, from, to, opts)
			if err != nil {
				t.Fatal(err)
			}
			src := &counting{Source: openWarehouse(t), perInterval: tc.perInterval}
			got, err := Replay(ctx, src, m, from, to, opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(want.Events) == 0 {
				t.Fatal("the fixture opens no task: nothing is compared")
			}
			// Events of one evaluation come in map order (episodes ended).
			for _, evs := range [][]ReplayEvent{got.Events, want.Events} {
				sort.SliceStable(evs, func(i, j int) bool {
					a, b := evs[i], evs[j]
					if !a.At.Equal(b.At) {
						return a.At.Before(b.At)
					}
					return a.Event+"\x00"+a.Segment < b.Event+"\x00"+b.Segment
				})
			}
			if err := closeTo("events", reflect.ValueOf(got.Events), reflect.ValueOf(want.Events)); err != nil {
				t.Fatal(err)
			}
			if err := closeTo("last", reflect.ValueOf(got.Last), reflect.ValueOf(want.Last)); err != nil {
				t.Fatal(err)
			}
			q, h := src.queries.Load(), src.histories.Load()
			t.Logf("%d events; %d queries, %d histories of %d queries", len(got.Events), q, h, len(src.keys))
			evaluations := int64(to.Sub(from) / m.Interval)
			switch {
			case !tc.direct && (q != 0 || h != int64(len(src.keys))):
				t.Fatalf("%d queries and %d histories of %d queries, want none and one each", q, h, len(src.keys))
			case !tc.direct && len(src.keys) != 1:
				// Episodes' evidence is merged from the replay's own
				// buckets, never a history narrowed to their segments
				// over the whole replay.
				t.Fatalf("histories of %d queries, want the Metric's own only", len(src.keys))
			case tc.direct && q < evaluations:
				t.Fatalf("%d queries for %d evaluations: the windows did not go to the source", q, evaluations)
			}
		})
	}
}

// A first evaluation reads its calibration's year, its window, its
// warm-up over the window and its episodes' evidence as one history.
func TestFirstEvaluationReadsOneHistory(t *testing.T) {
	ctx := context.Background()
	m := warehouseCSAT(time.UTC)
	src := &counting{Source: openWarehouse(t)}
	end := demodata.DefaultT0
	res, err := Evaluate(ctx, src, m, Prior{}, end)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := Evaluate(ctx, plain{openWarehouse(t)}, m, Prior{}, end)
	if err != nil {
		t.Fatal(err)
	}
	if err := closeTo("evaluation", reflect.ValueOf(res), reflect.ValueOf(direct)); err != nil {
		t.Fatal(err)
	}
	if res.Detector == nil || res.Detector.Calibration == nil || res.Detector.FedUntil.IsZero() {
		t.Fatalf("the evaluation did not calibrate and warm up: %+v", res.Detector)
	}
	if q, h := src.queries.Load(), src.histories.Load(); h != 1 || q != 0 {
		t.Fatalf("%d queries and %d histories, want one history", q, h)
	}
	// The next evaluation reads its window and its feed as one history.
	src.queries.Store(0)
	src.histories.Store(0)
	next := AddWall(end, m.Interval, m.Location)
	again, err := Evaluate(ctx, src, m, res.Prior(), next)
	if err != nil {
		t.Fatal(err)
	}
	direct, err = Evaluate(ctx, plain{openWarehouse(t)}, m, direct.Prior(), next)
	if err != nil {
		t.Fatal(err)
	}
	if err := closeTo("next evaluation", reflect.ValueOf(again), reflect.ValueOf(direct)); err != nil {
		t.Fatal(err)
	}
	if q, h := src.queries.Load(), src.histories.Load(); h != 1 || q != 0 {
		t.Fatalf("next evaluation: %d queries and %d histories, want one history", q, h)
	}
}
