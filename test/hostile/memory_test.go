package hostile

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/source"
)

// peakHeapGrowth runs f while sampling the heap, and returns how far the
// live heap rose above where it stood before.
func peakHeapGrowth(f func()) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	runtime.GC()
	base := read()
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	f()
	close(done)
	wg.Wait()
	if p := peak.Load(); p > base {
		return p - base
	}
	return 0
}

// A memory case calls a driver directly on a hostile input: the query
// fails with the typed error while the heap stays bounded.
type memoryCase struct {
	name  string
	open  func(t *testing.T) source.Source
	query func(m *cxv1.Metric)
	want  error
	// bound on the heap's growth over the query.
	bound uint64
}

// defaulted creates m so the API server applies its defaults, and reads it
// back: the drivers take Metrics as the operator sees them.
func defaulted(t *testing.T, m *cxv1.Metric) *cxv1.Metric {
	t.Helper()
	create(t, m)
	var got cxv1.Metric
	if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(m), &got); err != nil {
		t.Fatal(err)
	}
	return &got
}

func TestHostileInputsKeepMemoryBounded(t *testing.T) {
	const mib = 1 << 20
	csv := func(write func(f *os.File)) func(t *testing.T) source.Source {
		return func(t *testing.T) source.Source {
			path := csvFile(t, write)
			src, err := source.OpenCSV(source.CSVConfig{Path: path, Roots: []string{dataRoot}, Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			return src
		}
	}
	httpJSON := func(handler http.HandlerFunc) func(t *testing.T) source.Source {
		return func(t *testing.T) source.Source {
			srv := serve(t, handler)
			src, err := source.OpenHTTPJSON(source.HTTPJSONConfig{URL: srv.URL, MaxResponseBytes: 64 * mib, MaxPages: 1,
				Timeout: time.Minute, Network: source.NetworkPolicy{Allowed: loopback}})
			if err != nil {
				t.Fatal(err)
			}
			return src
		}
	}
	prom := func(handler http.HandlerFunc) func(t *testing.T) source.Source {
		return func(t *testing.T) source.Source {
			srv := serve(t, handler)
			src, err := source.OpenPrometheus(source.PrometheusConfig{URL: srv.URL, Timeout: time.Minute,
				Network: source.NetworkPolicy{Allowed: loopback}})
			if err != nil {
				t.Fatal(err)
			}
			return src
		}
	}
	cases := []memoryCase{
		{name: "csv-line-of-64MiB", want: source.ErrTooLarge, bound: 64 * mib, query: func(*cxv1.Metric) {},
			open: csv(func(f *os.File) {
				fmt.Fprint(f, "answered_at,score,survey\n2026-02-01T00:00:00Z,5,")
				chunk := strings.Repeat("x", mib)
				for i := 0; i < 64; i++ {
					fmt.Fprint(f, chunk)
				}
			})},
		{name: "csv-20000-segments", want: source.ErrTooManySegments, bound: 64 * mib,
			query: func(m *cxv1.Metric) { m.Spec.SegmentBy = []string{"account"} },
			open: csv(func(f *os.File) {
				fmt.Fprint(f, "answered_at,score,survey,account\n")
				for i := 0; i < 20_000; i++ {
					fmt.Fprintf(f, "2026-02-0%dT00:00:00Z,5,csat,acct-%05d\n", 1+i%9, i)
				}
			})},
		{name: "httpjson-record-of-64MiB", want: source.ErrTooLarge, bound: 64 * mib, query: func(*cxv1.Metric) {},
			open: httpJSON(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, `[{"answered_at":"2026-02-01T00:00:00Z","score":5,"survey":"`)
				chunk := strings.Repeat("x", mib)
				for i := 0; i < 64 && r.Context().Err() == nil; i++ {
					fmt.Fprint(w, chunk)
				}
				fmt.Fprint(w, `"}]`)
			})},
		{name: "httpjson-endless-body", want: source.ErrBadQuery, bound: 64 * mib, query: func(*cxv1.Metric) {},
			open: httpJSON(endless)},
		{name: "prometheus-a-million-series", want: source.ErrTooLarge, bound: 64 * mib, query: promMetric,
			open: prom(manySeries(1_000_000))},
		{name: "sqlite-randomblob-of-900MB", want: source.ErrTooLarge, bound: 64 * mib,
			query: func(m *cxv1.Metric) {
				m.Spec.Query = &cxv1.MetricQuery{SQL: "SELECT answered_at, score + length(randomblob(900000000)) AS score FROM records",
					Columns: &cxv1.QueryColumns{Value: "score", Time: "answered_at"}}
			},
			open: func(t *testing.T) source.Source {
				src, err := source.OpenSQLite(source.SQLiteConfig{Path: sqliteFile(t), Roots: []string{dataRoot}, Timeout: time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				return src
			}},
	}
	ns := newNamespace(t)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := csatMetric(ns, fmt.Sprintf("memory-%d", i), "direct")
			tc.query(m)
			m = defaulted(t, m)
			src := tc.open(t)
			defer src.Close()
			var err error
			grew := peakHeapGrowth(func() {
				_, err = src.Query(context.Background(), metricspec.Definition(m), metricspec.Query(m), day.Add(-720*time.Hour), day)
			})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if grew > tc.bound {
				t.Fatalf("the heap grew by %d MiB over the query, want at most %d MiB", grew>>20, tc.bound>>20)
			}
			t.Logf("heap grew by %.1f MiB: %v", float64(grew)/mib, err)
			noLeak(t)
		})
	}
}
