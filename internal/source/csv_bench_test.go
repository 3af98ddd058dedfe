package source

import (
	"bufio"
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// benchCSVRows is the size of the generated export; CXLOOP_BENCH_CSV_ROWS
// sets another (2400000 is a 107 MB file, a year of a large survey).
func benchCSVRows(b *testing.B) int {
	if v := os.Getenv("CXLOOP_BENCH_CSV_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("CXLOOP_BENCH_CSV_ROWS=%q: want a positive number", v)
		}
		return n
	}
	return 1_000_000
}

// writeBenchCSV writes rows survey answers to a file: an id, the time,
// the score, the account (the cluster), a region and a channel (segment
// and filter), a weight, about 60 bytes a row as exports have.
func writeBenchCSV(b *testing.B, rows int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "responses.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("id,answered_at,score,account,region,channel,weight\n")
	regions := []string{"eu", "us", "apac", "latam"}
	channels := []string{"web", "email", "app"}
	var line []byte
	for i := range rows {
		at := jsonFrom.Add(time.Duration(i) * 13 * time.Second)
		line = strconv.AppendInt(line[:0], int64(i), 10)
		line = append(line, ',')
		line = at.AppendFormat(line, time.RFC3339)
		line = append(line, ',')
		line = strconv.AppendInt(line, int64(i*7%11), 10)
		line = append(line, ",acct-"...)
		line = strconv.AppendInt(line, int64(i*31%5000), 10)
		line = append(append(append(line, ','), regions[i%4]...), ',')
		line = append(append(line, channels[i%3]...), ',')
		line = strconv.AppendFloat(line, 0.5+float64(i%8)/4, 'f', -1, 64)
		line = append(line, '\n')
		w.Write(line)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// scanSum is the baseline, what awk -F, '$2 >= from && $2 < to && $6 !=
// "email" {s += $3}' does: split each line and sum one column of the
// lines in the window, with no statistics and no CSV quoting.
func scanSum(b *testing.B, path string, from, to string, channelFilter bool) float64 {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), MaxCSVRecordBytes)
	sc.Scan() // header
	sum := 0.0
	var cols [8][]byte
	for sc.Scan() {
		line := sc.Bytes()
		n := 0
		for len(line) > 0 && n < len(cols) {
			i := bytes.IndexByte(line, ',')
			if i < 0 {
				cols[n], line = line, nil
			} else {
				cols[n], line = line[:i], line[i+1:]
			}
			n++
		}
		if string(cols[1]) < from || string(cols[1]) >= to || (channelFilter && string(cols[5]) == "email") {
			continue
		}
		x, _ := strconv.ParseFloat(string(cols[2]), 64)
		sum += x
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return sum
}

// awkSum times awk doing the query's filter and summing the score over
// the same file, the fastest of three runs, and checks its sum against
// the scan's, so both did the same work.
func awkSum(b *testing.B, path, from, to string, channelFilter bool) time.Duration {
	b.Helper()
	awk, err := exec.LookPath("awk")
	if err != nil {
		b.Fatal("awk is the baseline: install it (Debian's mawk)")
	}
	cond := `NR > 1 && $2 >= from && $2 < to`
	if channelFilter {
		cond += ` && $6 != "email"`
	}
	best := time.Duration(math.MaxInt64)
	var out []byte
	for range 3 {
		start := time.Now()
		out, err = exec.Command(awk, "-F,", "-v", "from="+from, "-v", "to="+to,
			cond+` { s += $3 } END { printf "%.0f\n", s }`, path).Output()
		if err != nil {
			b.Fatalf("awk: %v", err)
		}
		best = min(best, time.Since(start))
	}
	want := scanSum(b, path, from, to, channelFilter)
	if got, _ := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); got != want {
		b.Fatalf("awk summed %v, the scan %v", got, want)
	}
	return best
}

// BenchmarkCSVQuery reads a generated export the way a Metric does (NPS,
// weighted, by region, one channel filtered out, clustered by account, a
// 30-day window) and reports its time as a multiple of the baseline scan
// measured in the same run, and its allocations per row.
func BenchmarkCSVQuery(b *testing.B) {
	rows := benchCSVRows(b)
	path := writeBenchCSV(b, rows)
	src, err := OpenCSV(CSVConfig{Path: filepath.Base(path), Roots: []string{filepath.Dir(path)}, Timeout: 10 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	from, to := jsonFrom.AddDate(0, 0, 30), jsonFrom.AddDate(0, 0, 60)
	def := measure.Definition{Formula: measure.FormulaNPS}
	q := Query{Table: RecordsTable, Value: "score", Time: "answered_at", Weight: "weight", Cluster: "account",
		Segments: []string{"region"}, Filters: []Filter{{Column: "channel", Operator: NotEquals, Values: []string{"email"}}}}
	for _, tc := range []struct {
		name string
		q    Query
	}{
		{"plain", Query{Table: RecordsTable, Value: "score", Time: "answered_at"}},
		{"segmented", q},
	} {
		b.Run(tc.name, func(b *testing.B) {
			// The fastest of three scans: the file is in the page cache
			// after the first, as it is for the queries.
			baseline := time.Duration(math.MaxInt64)
			for range 3 {
				start := time.Now()
				scanSum(b, path, from.Format(time.RFC3339), to.Format(time.RFC3339), tc.q.Filters != nil)
				baseline = min(baseline, time.Since(start))
			}
			awk := awkSum(b, path, from.Format(time.RFC3339), to.Format(time.RFC3339), tc.q.Filters != nil)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			n := 0
			for b.Loop() {
				res, err := src.Query(context.Background(), def, tc.q, from, to)
				if err != nil {
					b.Fatal(err)
				}
				if res.Overall.Total.N == 0 {
					b.Fatal("no records in the window")
				}
				n++
			}
			runtime.ReadMemStats(&after)
			per := b.Elapsed() / time.Duration(n)
			b.ReportMetric(float64(per)/float64(baseline), "x-scan")
			b.ReportMetric(float64(per)/float64(awk), "x-awk")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(n*rows), "allocs/row")
			b.ReportMetric(float64(per.Nanoseconds())/float64(rows), "ns/row")
			b.ReportMetric(float64(baseline.Nanoseconds())/float64(rows), "scan-ns/row")
		})
	}
}
