package source

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// plainSource hides every method but Source's, as a source that cannot
// answer ranges does.
type plainSource struct{ Source }

// testPrefetch runs against the test Prometheus behind the counting proxy.
func testPrefetch(t *testing.T, fx *promFixture, proxy *countingProxy) {
	ctx := context.Background()
	src := openProm(t, PrometheusConfig{URL: proxy.url, Username: fx.username, Password: fx.password, Network: promLoopback(t)})
	window, step := 6*time.Hour, time.Hour
	first := fx.start.Add(24 * time.Hour)
	last := first.Add(47 * step)
	avg := Query{PromQL: "avg_over_time(cx_queue_wait_seconds[$__window])", Segments: []string{"region"}}
	counted := avg
	counted.SamplesPromQL = "count_over_time(cx_queue_wait_seconds[$__window])"

	// through runs fn and returns how many requests reached Prometheus.
	through := func(fn func()) int64 {
		before := proxy.requests.Load()
		fn()
		return proxy.requests.Load() - before
	}
	query := func(s Source, q Query, from, to time.Time) *Result {
		t.Helper()
		res, err := s.Query(ctx, promGauge, q, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	for _, tc := range []struct {
		name     string
		q        Query
		requests int64
	}{{"means", avg, 1}, {"samples-weighted", counted, 2}} {
		t.Run("48 aligned ends take "+tc.name+" from one range", func(t *testing.T) {
			p := Prefetch(src, step, last)
			got := map[time.Time]*Result{}
			n := through(func() {
				for end := first; !end.After(last); end = end.Add(step) {
					got[end] = query(p, tc.q, end.Add(-window), end)
				}
			})
			if n != tc.requests {
				t.Errorf("%d requests for %d ends, want %d", n, len(got), tc.requests)
			}
			for end, res := range got {
				sameResult(t, end.Format(time.RFC3339), res, query(src, tc.q, end.Add(-window), end))
			}
			// A caller merging into a result leaves the prefetched one intact.
			got[first].Overall.Merge(got[first].Overall)
			if n := through(func() {
				sameResult(t, "again", query(p, tc.q, first.Add(-window), first), query(src, tc.q, first.Add(-window), first))
			}); n != tc.requests {
				t.Errorf("%d requests asking the first end again beside the direct query, want the direct query's %d", n, tc.requests)
			}
		})
	}

	t.Run("anything else goes to the source", func(t *testing.T) {
		p := Prefetch(src, step, last)
		query(p, avg, first.Add(-window), first)
		mid := first.Add(10 * step)
		for _, c := range []struct {
			what     string
			q        Query
			from, to time.Time
			requests int64
		}{
			{"an unaligned end", avg, mid.Add(-window + 30*time.Minute), mid.Add(30 * time.Minute), 1},
			{"an end past last", avg, last.Add(-window + step), last.Add(step), 1},
			{"a cached end", avg, mid.Add(-window), mid, 0},
			// A different query or window is its own range, fetched once.
			{"another query", Query{PromQL: avg.PromQL, Segments: []string{"team"}}, mid.Add(-window), mid, 1},
			{"another window", avg, mid.Add(-2 * window), mid, 1},
			{"another window's next end", avg, mid.Add(step - 2*window), mid.Add(step), 0},
			{"an end before the range", avg, first.Add(-step - window), first.Add(-step), 1},
		} {
			var res *Result
			if n := through(func() { res = query(p, c.q, c.from, c.to) }); n != c.requests {
				t.Errorf("%s: %d requests, want %d", c.what, n, c.requests)
			}
			sameResult(t, c.what, res, query(src, c.q, c.from, c.to))
		}
	})

	t.Run("a source without ranges is returned as it is", func(t *testing.T) {
		plain := plainSource{src}
		if p := Prefetch(plain, step, last); p != Source(plain) {
			t.Errorf("Prefetch wrapped a source that cannot answer ranges: %T", p)
		}
	})
}

func TestPrefetchFallsBackWhenRangesFail(t *testing.T) {
	// A server that refuses range queries, as a proxy serving instant
	// queries only does; a real Prometheus cannot be made to.
	var ranges, instants atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/v1/query_range" {
			ranges.Add(1)
			w.WriteHeader(http.StatusUnprocessableEntity)
			w.Write([]byte(`{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory"}`))
			return
		}
		instants.Add(1)
		w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"region":"eu"},"value":[1700000000,"42.5"]}]}}`))
	}))
	t.Cleanup(srv.Close)
	src := openProm(t, PrometheusConfig{URL: srv.URL, Network: promLoopback(t)})
	first := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	p := Prefetch(src, time.Hour, first.Add(9*time.Hour))
	q := Query{PromQL: "avg_over_time(x[$__window])", Segments: []string{"region"}}
	for end := first; !end.After(first.Add(9 * time.Hour)); end = end.Add(time.Hour) {
		res, err := p.Query(context.Background(), promGauge, q, end.Add(-6*time.Hour), end)
		if err != nil {
			t.Fatal(err)
		}
		if seg := res.Segments["region=eu"]; seg == nil || seg.Stats.Moments.SumWX != 42.5 {
			t.Fatalf("%s: segments %v, want region=eu read 42.5", end, res.Segments)
		}
	}
	if ranges.Load() != 1 || instants.Load() != 10 {
		t.Errorf("%d range and %d instant requests, want the range tried once and 10 instant queries", ranges.Load(), instants.Load())
	}
	if _, err := src.(RangeSource).QueryRange(context.Background(), promGauge, q, time.Hour, first, first.Add(time.Hour), time.Hour); !errors.Is(err, ErrBadQuery) {
		t.Errorf("the refused range: %v, want ErrBadQuery as for an instant query", err)
	}
}
