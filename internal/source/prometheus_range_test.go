package source

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingProxy forwards to the test Prometheus and counts the API
// requests that reach it.
type countingProxy struct {
	url      string
	requests atomic.Int64
}

func startCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{}
	forward := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/") {
			p.requests.Add(1)
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// sameResult fails unless got and want hold the same statement, segments
// and statistics.
func sameResult(t *testing.T, what string, got, want *Result) {
	t.Helper()
	if got.Statement != want.Statement {
		t.Fatalf("%s: statement %q, want %q", what, got.Statement, want.Statement)
	}
	sameStats(t, what+" overall", got.Overall, want.Overall)
	if len(got.Segments) != len(want.Segments) {
		t.Fatalf("%s: %d segments, want %d", what, len(got.Segments), len(want.Segments))
	}
	for k, w := range want.Segments {
		g := got.Segments[k]
		if g == nil || g.Key != w.Key || SegmentKey(g.Values) != SegmentKey(w.Values) {
			t.Fatalf("%s: segment %q is %+v, want %+v", what, k, g, w)
		}
		sameStats(t, what+" "+k, g.Stats, w.Stats)
	}
}

func TestPrometheusRangeQueries(t *testing.T) {
	fx := startPrometheus(t)
	proxy := startCountingProxy(t, fx.url)
	ctx := context.Background()
	src := openProm(t, PrometheusConfig{URL: proxy.url, Username: fx.username, Password: fx.password, Network: promLoopback(t)})
	rs, ok := src.(RangeSource)
	if !ok {
		t.Fatal("the Prometheus source does not answer ranges")
	}
	avg := Query{PromQL: "avg_over_time(cx_queue_wait_seconds[$__window])", Segments: []string{"region"}}
	counted := avg
	counted.SamplesPromQL = "count_over_time(cx_queue_wait_seconds[$__window])"

	t.Run("every end of a range equals its instant query", func(t *testing.T) {
		first := fx.start.Add(12 * time.Hour)
		for _, tc := range []struct {
			name         string
			q            Query
			window, step time.Duration
			ends         int
		}{
			{"hourly means by region", avg, 6 * time.Hour, time.Hour, 56},
			{"samples-weighted", counted, 6 * time.Hour, time.Hour, 56},
			{"half-hourly, window off the step", counted, 95 * time.Minute, 30 * time.Minute, 60},
			{"unsegmented scalar", Query{PromQL: "scalar(sum(count_over_time(cx_queue_wait_seconds[$__window])))"}, 2 * time.Hour, time.Hour, 48},
			{"NaN readings", Query{PromQL: "avg_over_time(cx_probe_ratio[$__window])", Segments: []string{"region", "team"}}, 3 * time.Hour, time.Hour, 48},
			{"counts aggregated by segment", Query{PromQL: avg.PromQL, Segments: []string{"region"},
				SamplesPromQL: "sum by (region) (count_over_time(cx_queue_wait_seconds[$__window]))"}, 6 * time.Hour, time.Hour, 48},
		} {
			t.Run(tc.name, func(t *testing.T) {
				last := first.Add(time.Duration(tc.ends-1) * tc.step)
				before := proxy.requests.Load()
				got, err := rs.QueryRange(ctx, promGauge, tc.q, tc.window, first, last, tc.step)
				if err != nil {
					t.Fatal(err)
				}
				requests := int64(1)
				if tc.q.SamplesPromQL != "" {
					requests = 2
				}
				if n := proxy.requests.Load() - before; n != requests {
					t.Errorf("%d requests for the range, want %d", n, requests)
				}
				if len(got) != tc.ends {
					t.Fatalf("%d ends, want %d", len(got), tc.ends)
				}
				for end := first; !end.After(last); end = end.Add(tc.step) {
					want, err := src.Query(ctx, promGauge, tc.q, end.Add(-tc.window), end)
					if err != nil {
						t.Fatal(err)
					}
					if got[end] == nil {
						t.Fatalf("no result at %s", end)
					}
					sameResult(t, end.Format(time.RFC3339), got[end], want)
				}
			})
		}
	})

	t.Run("a range past 11,000 points is split", func(t *testing.T) {
		first, step := fx.start.Add(time.Hour), 20*time.Second
		last := first.Add(70 * time.Hour)
		ends := int(last.Sub(first)/step) + 1
		before := proxy.requests.Load()
		got, err := rs.QueryRange(ctx, promGauge, avg, 5*time.Minute, first, last, step)
		if err != nil {
			t.Fatal(err)
		}
		if n := proxy.requests.Load() - before; n != 2 {
			t.Errorf("%d requests for %d ends, want 2", n, ends)
		}
		if len(got) != ends {
			t.Fatalf("%d ends, want %d", len(got), ends)
		}
		for _, i := range []int{0, 1, maxRangePoints - 1, maxRangePoints, ends - 1} {
			end := first.Add(time.Duration(i) * step)
			want, err := src.Query(ctx, promGauge, avg, end.Add(-5*time.Minute), end)
			if err != nil {
				t.Fatal(err)
			}
			sameResult(t, end.Format(time.RFC3339), got[end], want)
		}
	})

	t.Run("failures are typed as for instant queries", func(t *testing.T) {
		from := fx.start.Add(2 * time.Hour)
		if _, err := rs.QueryRange(ctx, promGauge, Query{PromQL: "avg_over_time(x[$__window]"}, time.Hour, from, from.Add(5*time.Hour), time.Hour); !errors.Is(err, ErrBadQuery) || !strings.Contains(err.Error(), "parse error") {
			t.Errorf("syntax error: %v, want ErrBadQuery with Prometheus's message", err)
		}
		if _, err := rs.QueryRange(ctx, promGauge, Query{PromQL: "cx_queue_wait_seconds[$__window]"}, time.Hour, from, from.Add(5*time.Hour), time.Hour); !errors.Is(err, ErrBadQuery) {
			t.Errorf("a range vector: %v, want ErrBadQuery", err)
		}
		if _, err := rs.QueryRange(ctx, promGauge, avg, time.Hour, from, from.Add(5*time.Hour), 0); !errors.Is(err, ErrBadQuery) {
			t.Errorf("no step: %v, want ErrBadQuery", err)
		}
	})

	t.Run("prefetch", func(t *testing.T) { testPrefetch(t, fx, proxy) })
	t.Run("history", func(t *testing.T) { testPrometheusHistory(t, fx, proxy) })
}
