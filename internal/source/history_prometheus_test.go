package source

import (
	"context"
	"testing"
	"time"
)

// testPrometheusHistory: against the test Prometheus, a history answers
// every interval as Query over it, with one range query per run of equal
// intervals (two with a samples expression) and one instant query per
// interval of a length of its own; intervals before the data are nil.
func testPrometheusHistory(t *testing.T, fx *promFixture, proxy *countingProxy) {
	ctx := context.Background()
	src := openProm(t, PrometheusConfig{URL: proxy.url, Username: fx.username, Password: fx.password, Network: promLoopback(t)})
	hs, ok := src.(HistorySource)
	if !ok {
		t.Fatal("the Prometheus source answers no histories")
	}
	avg := Query{PromQL: "avg_over_time(cx_queue_wait_seconds[$__window])", Segments: []string{"region"}}
	counted := avg
	counted.SamplesPromQL = "count_over_time(cx_queue_wait_seconds[$__window])"
	probe := Query{PromQL: "avg_over_time(cx_probe_ratio[$__window])", Segments: []string{"region", "team"}}
	hours := func(from time.Time, n int, step time.Duration) []time.Time {
		out := make([]time.Time, n+1)
		for i := range out {
			out[i] = from.Add(time.Duration(i) * step)
		}
		return out
	}
	// Hours, then a 90-minute interval, then hours again: two runs and
	// one interval of its own.
	mixed := append(hours(fx.start.Add(10*time.Hour), 12, time.Hour), fx.start.Add(23*time.Hour+30*time.Minute))
	mixed = append(mixed, hours(fx.start.Add(24*time.Hour+30*time.Minute), 12, time.Hour)...)
	// No two intervals of one length: one instant query each.
	var ragged []time.Time
	for i, at := 0, fx.start.Add(30*time.Hour); i < 8; i++ {
		ragged = append(ragged, at)
		at = at.Add(time.Hour + time.Duration(i)*7*time.Minute)
	}
	for _, tc := range []struct {
		name     string
		q        Query
		bounds   []time.Time
		requests int64
	}{
		// Starting 6 hours before the data: the first intervals are empty.
		{"uniform hours by region", avg, hours(fx.start.Add(-6*time.Hour), 60, time.Hour), 1},
		{"uniform, samples-weighted", counted, hours(fx.start.Add(2*time.Hour), 40, 30*time.Minute), 2},
		{"NaN readings", probe, hours(fx.start.Add(3*time.Hour), 20, 2*time.Hour), 1},
		{"two runs and an odd interval", counted, mixed, 2 + 2 + 2},
		{"no two intervals alike", avg, ragged, int64(len(ragged) - 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := proxy.requests.Load()
			got, err := hs.QueryHistory(ctx, promGauge, tc.q, tc.bounds)
			if err != nil {
				t.Fatal(err)
			}
			if n := proxy.requests.Load() - before; n != tc.requests {
				t.Errorf("%d requests for %d intervals, want %d", n, len(tc.bounds)-1, tc.requests)
			}
			sameHistory(t, tc.name, src, promGauge, tc.q, tc.bounds, got)
			if tc.bounds[0].Before(fx.start) && got[0] != nil {
				t.Errorf("the interval before the data: %d readings, want nil", got[0].Overall.Total.N)
			}
		})
	}
	if _, err := hs.QueryHistory(ctx, promGauge, Query{PromQL: "up", Cluster: "account"}, hours(fx.start, 3, time.Hour)); err == nil {
		t.Error("a cluster column on Prometheus: no error")
	}
}
