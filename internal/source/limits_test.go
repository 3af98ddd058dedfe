package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// repeated yields head, then n copies of fill, then tail, without ever
// holding the text whole.
type repeated struct {
	head, tail []byte
	fill       byte
	every      int // a newline after every that many fill bytes; 0 for none
	n, i       int
}

func (r *repeated) Read(p []byte) (int, error) {
	k := 0
	for k < len(p) {
		switch {
		case len(r.head) > 0:
			c := copy(p[k:], r.head)
			r.head, k = r.head[c:], k+c
		case r.i < r.n:
			b := r.fill
			if r.every > 0 && r.i%r.every == r.every-1 {
				b = '\n'
			}
			p[k] = b
			r.i++
			k++
		case len(r.tail) > 0:
			c := copy(p[k:], r.tail)
			r.tail, k = r.tail[c:], k+c
		default:
			if k == 0 {
				return 0, io.EOF
			}
			return k, nil
		}
	}
	return k, nil
}

// allocated returns the bytes run allocates on Go's heap.
func allocated(run func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	run()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func csvOf(r func() io.Reader) Source {
	src, _ := OpenCSV(CSVConfig{Name: "export.csv", Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(r()), nil
	}})
	return src
}

var csvMean = Query{Table: RecordsTable, Value: "score", Time: "at"}

func TestCSVRefusesARecordPastTheLimitWithoutBufferingIt(t *testing.T) {
	const line = 100 << 20
	for _, tc := range []struct {
		name string
		r    func() io.Reader
	}{
		{"a 100 MB line", func() io.Reader {
			return &repeated{head: []byte("at,score\n2026-03-02T00:00:00Z,"), fill: '7', n: line, tail: []byte("\n")}
		}},
		{"a 100 MB quoted field of short lines", func() io.Reader {
			return &repeated{head: []byte("at,score,note\n2026-03-02T00:00:00Z,7,\""), fill: 'x', every: 10, n: line, tail: []byte("\"\n")}
		}},
		{"a 100 MB header", func() io.Reader {
			return &repeated{head: []byte("at,score,"), fill: 'h', n: line, tail: []byte("\n")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			grew := allocated(func() {
				_, err = csvOf(tc.r).Query(context.Background(), measure.Definition{Formula: measure.FormulaMean}, csvMean, jsonFrom, jsonTo)
			})
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "1 MiB") || !strings.Contains(err.Error(), "MaxCSVRecordBytes") {
				t.Fatalf("error %v: want ErrTooLarge naming the 1 MiB limit", err)
			}
			if grew > 32<<20 {
				t.Errorf("allocated %d MiB reading a record of 100 MiB, want under 32 MiB", grew>>20)
			}
		})
	}
	t.Run("a record within the limit is read", func(t *testing.T) {
		note := strings.Repeat("n", MaxCSVRecordBytes-100)
		text := "at,score,note\n2026-03-02T00:00:00Z,7," + note + "\n2026-03-03T00:00:00Z,9,\"" + note[:1000] + "\n" + note[:1000] + "\"\n"
		res, err := csvOf(func() io.Reader { return strings.NewReader(text) }).Query(context.Background(),
			measure.Definition{Formula: measure.FormulaMean}, csvMean, jsonFrom, jsonTo)
		if err != nil {
			t.Fatal(err)
		}
		if res.Overall.Total.N != 2 || res.Overall.Moments.SumWX != 16 {
			t.Fatalf("read %d records summing %g, want 2 summing 16", res.Overall.Total.N, res.Overall.Moments.SumWX)
		}
	})
}

func TestRecordSourcesRefuseTooManySegments(t *testing.T) {
	var b strings.Builder
	b.WriteString("at,score,account\n")
	for i := 0; i <= MaxSegments; i++ {
		fmt.Fprintf(&b, "2026-03-02T00:00:00Z,7,acct-%d\n", i)
	}
	q := csvMean
	q.Segments = []string{"account"}
	_, err := csvOf(func() io.Reader { return strings.NewReader(b.String()) }).Query(context.Background(),
		measure.Definition{Formula: measure.FormulaMean}, q, jsonFrom, jsonTo)
	if !errors.Is(err, ErrTooManySegments) || !strings.Contains(err.Error(), "--max-segments") {
		t.Fatalf("%d segments: %v, want ErrTooManySegments naming --max-segments", MaxSegments+1, err)
	}
	// A bound set by the manager replaces the default either way.
	q.MaxSegments = MaxSegments + 1
	if _, err := csvOf(func() io.Reader { return strings.NewReader(b.String()) }).Query(context.Background(),
		measure.Definition{Formula: measure.FormulaMean}, q, jsonFrom, jsonTo); err != nil {
		t.Fatalf("%d segments under a bound of %d: %v", MaxSegments+1, q.MaxSegments, err)
	}
	q.MaxSegments = 10
	if _, err := csvOf(func() io.Reader { return strings.NewReader(b.String()) }).Query(context.Background(),
		measure.Definition{Formula: measure.FormulaMean}, q, jsonFrom, jsonTo); !errors.Is(err, ErrTooManySegments) || !strings.Contains(err.Error(), "more than 10 segments") {
		t.Fatalf("under a bound of 10: %v, want ErrTooManySegments naming 10", err)
	}
	q.Segments = nil
	if _, err := csvOf(func() io.Reader { return strings.NewReader(b.String()) }).Query(context.Background(),
		measure.Definition{Formula: measure.FormulaMean}, q, jsonFrom, jsonTo); err != nil {
		t.Fatalf("the same records without segments: %v", err)
	}
}

func TestHTTPJSONRefusesLargeRecordsValuesAndHeaders(t *testing.T) {
	big := strings.Repeat("x", 5<<20)
	small := strings.Repeat("x", 500<<10)
	mux := http.NewServeMux()
	mux.HandleFunc("/big-record", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `[{"at":"2026-03-02T00:00:00Z","score":7,"note":%q}]`, big)
	})
	mux.HandleFunc("/big-skipped", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"debug":%q,"data":[{"at":"2026-03-02T00:00:00Z","score":7}]}`, big)
	})
	mux.HandleFunc("/big-header", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Padding", strings.Repeat("p", 2*MaxResponseHeaderBytes))
		fmt.Fprint(w, `[]`)
	})
	mux.HandleFunc("/fine", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"debug":%q,"data":[{"at":"2026-03-02T00:00:00Z","score":7,"note":%q},{"at":"2026-03-03T00:00:00Z","score":9}]}`, small, small)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	def := measure.Definition{Formula: measure.FormulaMean}
	for _, tc := range []struct {
		path, records, limit string
	}{
		{"/big-record", "", "MaxJSONRecordBytes"},
		{"/big-skipped", "data", "MaxJSONRecordBytes"},
		{"/big-header", "", "MaxResponseHeaderBytes"},
	} {
		src := openJSONSource(t, HTTPJSONConfig{URL: srv.URL + tc.path, RecordsPath: tc.records})
		_, err := src.Query(context.Background(), def, csvMean, jsonFrom, jsonTo)
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), tc.limit) {
			t.Errorf("%s: %v, want ErrTooLarge naming %s", tc.path, err, tc.limit)
		}
	}
	src := openJSONSource(t, HTTPJSONConfig{URL: srv.URL + "/fine", RecordsPath: "data"})
	res, err := src.Query(context.Background(), def, csvMean, jsonFrom, jsonTo)
	if err != nil {
		t.Fatal(err)
	}
	if res.Overall.Total.N != 2 {
		t.Fatalf("read %d records, want 2", res.Overall.Total.N)
	}
}

// writeSeries streams an instant query's answer of n series.
func writeSeries(w io.Writer, n int) {
	io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[`)
	var b []byte
	for i := 0; i < n; i++ {
		b = b[:0]
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"metric":{"pod":"p%d","note":"{[\"{"},"value":[1700000000,"1"]}`, i)
		if _, err := w.Write(b); err != nil {
			return // the client gave up
		}
	}
	io.WriteString(w, `]}}`)
}

func TestPrometheusRefusesAMillionSeriesWithoutReadingThem(t *testing.T) {
	var series atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		writeSeries(w, int(series.Load()))
	}))
	t.Cleanup(srv.Close)
	src := openProm(t, PrometheusConfig{URL: srv.URL, Network: promLoopback(t)})
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

	series.Store(1_000_000)
	var err error
	grew := allocated(func() {
		_, err = src.Query(context.Background(), promGauge, Query{PromQL: "up"}, from, from.Add(time.Hour))
	})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "MaxPrometheusSeries") {
		t.Fatalf("a million series: %v, want ErrTooLarge naming MaxPrometheusSeries", err)
	}
	if grew > 48<<20 {
		t.Errorf("allocated %d MiB refusing a million series, want under 48 MiB", grew>>20)
	}

	series.Store(1000) // labels holding brackets and quotes are not structure
	res, err := src.Query(context.Background(), promGauge, Query{PromQL: "up"}, from, from.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.Overall.Total.N != 1000 {
		t.Fatalf("read %d series, want 1000", res.Overall.Total.N)
	}
	if _, err := src.Query(context.Background(), promGauge, Query{PromQL: "up", Segments: []string{"pod"}}, from, from.Add(time.Hour)); err != nil {
		t.Fatalf("1000 segments: %v", err)
	}
	series.Store(MaxSegments + 1)
	if _, err := src.Query(context.Background(), promGauge, Query{PromQL: "up", Segments: []string{"pod"}}, from, from.Add(time.Hour)); !errors.Is(err, ErrTooManySegments) || !strings.Contains(err.Error(), "--max-segments") {
		t.Fatalf("%d segments: %v, want ErrTooManySegments naming --max-segments", MaxSegments+1, err)
	}
	series.Store(11)
	if _, err := src.Query(context.Background(), promGauge, Query{PromQL: "up", Segments: []string{"pod"}, MaxSegments: 10}, from, from.Add(time.Hour)); !errors.Is(err, ErrTooManySegments) {
		t.Fatalf("11 segments under a bound of 10: %v, want ErrTooManySegments", err)
	}
}

func TestPrometheusRefusesAnAnswerPastTheByteLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pad":%q},"value":[1700000000,"1"]}]}}`,
			strings.Repeat("p", MaxPrometheusResponseBytes+1))
	}))
	t.Cleanup(srv.Close)
	src := openProm(t, PrometheusConfig{URL: srv.URL, Network: promLoopback(t)})
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	_, err := src.Query(context.Background(), promGauge, Query{PromQL: "up"}, from, from.Add(time.Hour))
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "MaxPrometheusResponseBytes") {
		t.Fatalf("an answer of 32 MiB and more: %v, want ErrTooLarge naming MaxPrometheusResponseBytes", err)
	}
}

// A range query whose answer would pass the byte limit is asked again in
// shorter pieces, and its results are the same.
func TestPrometheusRangeQueriesShrinkToFitTheByteLimit(t *testing.T) {
	// Each point's value is written with 4,000 leading zeros, so 11,000
	// points make an answer of about 44 MB.
	pad := strings.Repeat("0", 4000)
	var mu sync.Mutex
	var points []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		start, _ := strconv.ParseFloat(r.Form.Get("start"), 64)
		end, _ := strconv.ParseFloat(r.Form.Get("end"), 64)
		step, _ := strconv.ParseFloat(r.Form.Get("step"), 64)
		n := int((end-start)/step+0.5) + 1
		mu.Lock()
		points = append(points, n)
		mu.Unlock()
		var b bytes.Buffer
		b.WriteString(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[`)
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `[%.3f,"%s%d"]`, start+float64(i)*step, pad, i%10)
		}
		b.WriteString(`]}]}}`)
		w.Header().Set("Content-Type", "application/json")
		w.Write(b.Bytes())
	}))
	t.Cleanup(srv.Close)
	rs := openProm(t, PrometheusConfig{URL: srv.URL, Network: promLoopback(t)}).(RangeSource)
	first := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const ends = maxRangePoints
	got, err := rs.QueryRange(context.Background(), promGauge, Query{PromQL: "avg_over_time(x[$__window])"}, time.Hour,
		first, first.Add((ends-1)*time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != ends {
		t.Fatalf("%d results, want %d", len(got), ends)
	}
	for i := 0; i < ends; i++ {
		r := got[first.Add(time.Duration(i)*time.Minute)]
		if r == nil || r.Overall.Total.N != 1 || r.Overall.Moments.SumWX != float64(i%10) {
			t.Fatalf("end %d: %+v, want one reading of %d", i, r, i%10)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(points) < 3 || points[0] != ends || points[1] >= ends {
		t.Errorf("requests of %v points: want the whole range first, then shorter pieces", points)
	}
}

func TestSQLiteRefusesAHugeValueAtOnce(t *testing.T) {
	src := openWarehouse(t)
	q := Query{SQL: "SELECT responded_at, length(randomblob(900000000)) AS score FROM survey_responses", Value: "score", Time: "responded_at"}
	start := time.Now()
	_, err := src.Query(context.Background(), measure.Definition{Formula: measure.FormulaMean}, q, from, t0)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "MaxSQLValueBytes") {
		t.Fatalf("randomblob(900000000): %v, want ErrTooLarge naming MaxSQLValueBytes", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refused after %s, want at once", d)
	}
	q.SQL = "SELECT responded_at, length(randomblob(1000)) AS score FROM survey_responses"
	res, err := src.Query(context.Background(), measure.Definition{Formula: measure.FormulaMean}, q, from, t0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Overall.Total.N == 0 || res.Overall.Moments.SumWX != 1000*float64(res.Overall.Total.N) {
		t.Fatalf("small blobs: %d units summing %g, want each 1000", res.Overall.Total.N, res.Overall.Moments.SumWX)
	}
}

func TestSQLiteHeapIsBounded(t *testing.T) {
	if got := SQLiteHeapLimit(); got != MaxSQLiteHeapBytes {
		t.Fatalf("SQLite's hard heap limit is %d, want MaxSQLiteHeapBytes (%d)", got, MaxSQLiteHeapBytes)
	}
	src := openWarehouse(t)
	// Five values of 2 MB each, and their concatenation of 10 MB, are
	// under MaxSQLValueBytes; held together (group_concat) they need about
	// 10 MB of SQLite's heap, past a limit of 8 MiB set for the test.
	q := Query{SQL: fmt.Sprintf(`SELECT max(responded_at) AS responded_at, length(group_concat(hex(randomblob(1000000)))) AS score
		FROM (SELECT responded_at FROM survey_responses WHERE responded_at < '%s' ORDER BY responded_at DESC LIMIT 5)`, t0.Format(sqliteTimeLayout)),
		Value: "score", Time: "responded_at"}
	def := measure.Definition{Formula: measure.FormulaMean}
	res, err := src.Query(context.Background(), def, q, from, t0)
	if err != nil {
		t.Fatalf("under the default limit: %v", err)
	}
	if res.Overall.Total.N != 1 {
		t.Fatalf("under the default limit: %d units, want one", res.Overall.Total.N)
	}
	setSQLiteHeapLimitForTest(t, 8<<20)
	_, err = src.Query(context.Background(), def, q, from, t0)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "MaxSQLiteHeapBytes") || !strings.Contains(err.Error(), "8 MiB") {
		t.Fatalf("past the heap limit: %v, want ErrTooLarge naming MaxSQLiteHeapBytes and 8 MiB", err)
	}
	q.SQL = "SELECT responded_at, length(randomblob(1000)) AS score FROM survey_responses"
	if res, err := src.Query(context.Background(), def, q, from, t0); err != nil || res.Overall.Total.N == 0 {
		t.Fatalf("a small query after the refusal: %v, want it measured", err)
	}
}
