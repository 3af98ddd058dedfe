package source

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// promWindow is the independent computation: per region, the number
// and sum of the generated samples of a metric with from <= t < to, and
// each series' mean.
type promWindow struct {
	n           map[string]int64
	sum         map[string]float64
	seriesMeans map[string][]float64
}

func promSamplesIn(series []promSeries, name string, from, to time.Time) promWindow {
	w := promWindow{n: map[string]int64{}, sum: map[string]float64{}, seriesMeans: map[string][]float64{}}
	for _, s := range series {
		if s.name != name {
			continue
		}
		var n int64
		var sum float64
		for i, t := range s.times {
			if !t.Before(from) && t.Before(to) {
				n++
				sum += s.values[i]
			}
		}
		w.n[s.region] += n
		w.sum[s.region] += sum
		if n > 0 {
			w.seriesMeans[s.region] = append(w.seriesMeans[s.region], sum/float64(n))
		}
	}
	return w
}

func promWithin(a, b, rel float64) bool {
	return a == b || math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b))
}

var promGauge = measure.Definition{Formula: measure.FormulaValue}

// promValue computes a gauge and checks the statistics are consistent.
func promValue(t *testing.T, what string, s *measure.Stats) measure.Estimate {
	t.Helper()
	if err := promGauge.CheckStats(s); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	e, err := measure.Compute(promGauge, s, 0.95, 1)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return e
}

func TestPrometheusAgainstARealServer(t *testing.T) {
	fx := startPrometheus(t)
	ctx := context.Background()
	src := openProm(t, PrometheusConfig{URL: fx.url, Username: fx.username, Password: fx.password, Network: promLoopback(t)})
	from := fx.start.Add(24 * time.Hour)
	to := from.Add(24 * time.Hour)
	want := promSamplesIn(fx.series, "cx_queue_wait_seconds", from, to)

	t.Run("the window's mean per region, by series and by samples", func(t *testing.T) {
		q := Query{PromQL: "avg_over_time(cx_queue_wait_seconds[$__window])", Segments: []string{"region"}}
		res, err := src.Query(ctx, promGauge, q, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(res.Statement, "[86400000ms]") || !strings.Contains(res.Statement, to.Add(-time.Millisecond).Format(time.RFC3339Nano)) {
			t.Errorf("statement %q does not show the expression as run at to-1ms", res.Statement)
		}
		if len(res.Segments) != 3 {
			t.Fatalf("%d segments, want 3: %v", len(res.Segments), res.Segments)
		}
		for region, means := range want.seriesMeans {
			seg := res.Segments["region="+region]
			if seg == nil || seg.Values["region"] != region {
				t.Fatalf("segment region=%s missing", region)
			}
			var mean float64
			for _, m := range means {
				mean += m
			}
			mean /= float64(len(means))
			e := promValue(t, region, seg.Stats)
			if e.N != int64(len(means)) || !promWithin(e.Value, mean, 1e-9) {
				t.Errorf("%s: %v over %d series, want the mean of its series' means %v over %d", region, e.Value, e.N, mean, len(means))
			}
		}
		promValue(t, "overall", res.Overall)

		q.SamplesPromQL = "count_over_time(cx_queue_wait_seconds[$__window])"
		res, err = src.Query(ctx, promGauge, q, from, to)
		if err != nil {
			t.Fatal(err)
		}
		var allN int64
		var allSum float64
		for region, n := range want.n {
			e := promValue(t, region, res.Segments["region="+region].Stats)
			if e.N != n || !promWithin(e.Value, want.sum[region]/float64(n), 1e-9) {
				t.Errorf("%s: %v over %d samples, want %v over %d", region, e.Value, e.N, want.sum[region]/float64(n), n)
			}
			allN += n
			allSum += want.sum[region]
		}
		e := promValue(t, "overall", res.Overall)
		if e.N != allN || !promWithin(e.Value, allSum/float64(allN), 1e-9) {
			t.Errorf("overall: %v over %d samples, want %v over %d", e.Value, e.N, allSum/float64(allN), allN)
		}
		// The edges: the sample at from counts, the one at to does not.
		if allN != 4*24*60-promGaps(fx.series, from, to) {
			t.Errorf("%d samples in the window, want every minute of [from, to) less the gaps", allN)
		}
	})

	t.Run("readings without a count are unrated", func(t *testing.T) {
		q := Query{PromQL: "avg_over_time(cx_queue_wait_seconds[$__window])", Segments: []string{"region"},
			SamplesPromQL: `count_over_time(cx_queue_wait_seconds{region!="apac"}[$__window])`}
		res, err := src.Query(ctx, promGauge, q, from, to)
		if err != nil {
			t.Fatal(err)
		}
		apac := res.Segments["region=apac"].Stats
		if apac.Total.N != 0 || apac.Unrated.N != 1 {
			t.Errorf("apac: total %d unrated %d, want 0 and 1", apac.Total.N, apac.Unrated.N)
		}
		if res.Overall.Total.N != want.n["eu"]+want.n["us"] {
			t.Errorf("overall counts %d samples, want eu's and us's %d", res.Overall.Total.N, want.n["eu"]+want.n["us"])
		}
		// A count aggregated by region serves a region's only series; eu's
		// two series cannot share one count, so they are unrated.
		q.SamplesPromQL = "sum by (region) (count_over_time(cx_queue_wait_seconds[$__window]))"
		res, err = src.Query(ctx, promGauge, q, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if us := res.Segments["region=us"].Stats; us.Total.N != want.n["us"] {
			t.Errorf("us: %d samples, want %d", us.Total.N, want.n["us"])
		}
		if eu := res.Segments["region=eu"].Stats; eu.Total.N != 0 || eu.Unrated.N != 2 {
			t.Errorf("eu: total %d unrated %d, want 0 and 2", eu.Total.N, eu.Unrated.N)
		}
	})

	t.Run("a scalar or an unsegmented vector is one overall", func(t *testing.T) {
		q := Query{PromQL: "scalar(sum(count_over_time(cx_queue_wait_seconds[$__window])))"}
		res, err := src.Query(ctx, promGauge, q, from, to)
		if err != nil {
			t.Fatal(err)
		}
		total := want.n["eu"] + want.n["us"] + want.n["apac"]
		if e := promValue(t, "scalar", res.Overall); e.N != 1 || e.Value != float64(total) || len(res.Segments) != 0 {
			t.Errorf("scalar: %v over %d readings and %d segments, want %d over 1 and none", e.Value, e.N, len(res.Segments), total)
		}
		q.PromQL = "avg_over_time(cx_queue_wait_seconds[$__window])"
		res, err = src.Query(ctx, promGauge, q, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if res.Overall.Total.N != 4 || len(res.Segments) != 0 {
			t.Errorf("unsegmented: %d readings and %d segments, want the 4 series and none", res.Overall.Total.N, len(res.Segments))
		}
	})

	t.Run("non-finite readings are rejected", func(t *testing.T) {
		q := Query{PromQL: "avg_over_time(cx_probe_ratio[$__window])", Segments: []string{"region"}}
		res, err := src.Query(ctx, promGauge, q, from, to)
		if err != nil {
			t.Fatal(err)
		}
		mars, eu := res.Segments["region=mars"].Stats, res.Segments["region=eu"].Stats
		if mars.Rejected.N != 1 || mars.Total.N != 0 || eu.Total.N != 1 || eu.Moments.SumWX != 1 {
			t.Errorf("mars %+v, eu %+v: want mars rejected and eu read 1", mars, eu)
		}
		promValue(t, "overall", res.Overall)
	})

	t.Run("failures are typed", func(t *testing.T) {
		if _, err := src.Query(ctx, promGauge, Query{PromQL: "avg_over_time(cx_queue_wait_seconds[$__window]"}, from, to); !errors.Is(err, ErrBadQuery) || !strings.Contains(err.Error(), "parse error") {
			t.Errorf("syntax error: %v, want ErrBadQuery with Prometheus's message", err)
		}
		if _, err := src.Query(ctx, promGauge, Query{PromQL: "cx_queue_wait_seconds[$__window]"}, from, to); !errors.Is(err, ErrBadQuery) {
			t.Errorf("a range vector: %v, want ErrBadQuery", err)
		}
		if err := src.Check(ctx); err != nil {
			t.Errorf("check with the right password: %v", err)
		}
		for _, pw := range []string{"wrong-pass-xyz", ""} {
			err := openProm(t, PrometheusConfig{URL: fx.url, Username: fx.username, Password: pw, Network: promLoopback(t)}).Check(ctx)
			if !errors.Is(err, ErrUnauthorized) {
				t.Errorf("password %q: %v, want ErrUnauthorized", pw, err)
			}
			if pw != "" && err != nil && strings.Contains(err.Error(), pw) {
				t.Errorf("the error shows the password: %v", err)
			}
		}
		policy := openProm(t, PrometheusConfig{URL: fx.url, Username: fx.username, Password: fx.password})
		if err := policy.Check(ctx); !errors.Is(err, ErrAddressNotAllowed) {
			t.Errorf("loopback under the default policy: %v, want ErrAddressNotAllowed", err)
		}
		if _, err := policy.Query(ctx, promGauge, Query{PromQL: "vector(1)"}, from, to); !errors.Is(err, ErrAddressNotAllowed) {
			t.Errorf("query under the default policy: %v, want ErrAddressNotAllowed", err)
		}
	})
}

// promGaps counts the minutes of [from, to) missing from the queue series.
func promGaps(series []promSeries, from, to time.Time) int64 {
	var gaps int64
	for _, s := range series {
		if s.name != "cx_queue_wait_seconds" {
			continue
		}
		have := map[int64]bool{}
		for _, t := range s.times {
			have[t.Unix()] = true
		}
		for t := from; t.Before(to); t = t.Add(time.Minute) {
			if !have[t.Unix()] {
				gaps++
			}
		}
	}
	return gaps
}

func TestPrometheusUnreachable(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"http://127.0.0.1:1", "http://cxloop-no-such-host.invalid:9090"} {
		if err := openProm(t, PrometheusConfig{URL: u, Network: promLoopback(t), Timeout: 5 * time.Second}).Check(ctx); !errors.Is(err, ErrUnreachable) {
			t.Errorf("%s: %v, want ErrUnreachable", u, err)
		}
	}
	if _, err := OpenPrometheus(PrometheusConfig{URL: "ftp://prometheus"}); !errors.Is(err, ErrBadQuery) {
		t.Errorf("ftp url: %v, want ErrBadQuery", err)
	}
}

// fakePrometheus answers the HTTP API with a fixed status and body and
// records the requests; it stands in where a real Prometheus cannot be
// made to answer so (a refused token, its own timeout, no answer at all).
type fakePrometheus struct {
	status   atomic.Int64
	body     atomic.Value
	requests atomic.Int64
	auth     atomic.Value
	hang     bool
}

func (f *fakePrometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	f.auth.Store(r.Header.Get("Authorization"))
	if f.hang {
		// Reading the body lets the server notice the client giving up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(f.status.Load()))
	w.Write([]byte(f.body.Load().(string)))
}

func (f *fakePrometheus) answer(status int, body string) {
	f.status.Store(int64(status))
	f.body.Store(body)
}

func TestPrometheusBearerTokenIsSentAndNeverShown(t *testing.T) {
	const token = "tok-9f8e7d6c5b4a"
	fake := &fakePrometheus{}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	src := openProm(t, PrometheusConfig{URL: srv.URL, Token: token, Network: promLoopback(t)})
	ctx := context.Background()
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(time.Hour)

	fake.answer(200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"region":"eu"},"value":[1700000000,"42.5"]}]}}`)
	res, err := src.Query(ctx, promGauge, Query{PromQL: "x", Segments: []string{"region", "team"}}, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if got := fake.auth.Load(); got != "Bearer "+token {
		t.Errorf("Authorization %q, want the bearer token", got)
	}
	seg := res.Segments["region=eu,team="]
	if seg == nil || seg.Stats.Moments.SumWX != 42.5 {
		t.Fatalf("segments %v: want region=eu,team= read 42.5 (a missing label reads as \"\")", res.Segments)
	}
	for _, tc := range []struct {
		status int
		body   string
		want   error
	}{
		{401, "Unauthorized " + token, ErrUnauthorized},
		{403, `{"status":"error","errorType":"forbidden","error":"token ` + token + ` refused"}`, ErrUnauthorized},
		{400, `{"status":"error","errorType":"bad_data","error":"1:3: parse error: unexpected end of input"}`, ErrBadQuery},
		{422, `{"status":"error","errorType":"execution","error":"many-to-many matching not allowed"}`, ErrBadQuery},
		{503, `{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}`, ErrTimeout},
		{500, `{"status":"error","errorType":"internal","error":"boom"}`, ErrUnreachable},
		{404, `not found`, ErrUnreachable},
	} {
		fake.answer(tc.status, tc.body)
		_, err := src.Query(ctx, promGauge, Query{PromQL: "x"}, from, to)
		if !errors.Is(err, tc.want) {
			t.Errorf("status %d: %v, want %v", tc.status, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), token) {
			t.Errorf("status %d: the error shows the token: %v", tc.status, err)
		}
	}
}

func TestPrometheusTimeout(t *testing.T) {
	// A local server that never answers within the timeout: a real
	// Prometheus cannot be made slow on demand.
	fake := &fakePrometheus{hang: true}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	src := openProm(t, PrometheusConfig{URL: srv.URL, Network: promLoopback(t), Timeout: 300 * time.Millisecond})
	start := time.Now()
	if err := src.Check(context.Background()); !errors.Is(err, ErrTimeout) {
		t.Errorf("no answer: %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("stopped after %s, want about the 300ms timeout", d)
	}
}

func TestPrometheusReadsOnlyGauges(t *testing.T) {
	fake := &fakePrometheus{}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	src := openProm(t, PrometheusConfig{URL: srv.URL, Network: promLoopback(t)})
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	if _, err := src.Query(ctx, measure.Definition{Formula: measure.FormulaNPS}, Query{PromQL: "x"}, from, from.Add(time.Hour)); !errors.Is(err, ErrBadQuery) || !strings.Contains(err.Error(), "value") {
		t.Errorf("nps: %v, want ErrBadQuery naming formula value", err)
	}
	if _, err := src.Query(ctx, promGauge, Query{}, from, from.Add(time.Hour)); !errors.Is(err, ErrBadQuery) {
		t.Errorf("no PromQL: %v, want ErrBadQuery", err)
	}
	if n := fake.requests.Load(); n != 0 {
		t.Errorf("%d requests reached Prometheus, want none", n)
	}
}

func TestPrometheusCredentialsStayWithTheirHost(t *testing.T) {
	elsewhere := &fakePrometheus{}
	elsewhere.answer(200, `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"1"]}}`)
	other := httptest.NewServer(elsewhere)
	t.Cleanup(other.Close)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	src := openProm(t, PrometheusConfig{URL: redirect.URL, Token: "tok-redirected", Network: promLoopback(t)})
	if err := src.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if elsewhere.requests.Load() == 0 {
		t.Fatal("the redirect was not followed")
	}
	if got := elsewhere.auth.Load(); got != "" {
		t.Errorf("the redirect's target received Authorization %q", got)
	}
}
