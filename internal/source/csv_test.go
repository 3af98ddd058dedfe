package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// generatedCSV produces n records lazily, the way a large export streams
// from disk: the whole text never exists in memory at once.
type generatedCSV struct {
	n, i int
	buf  []byte
}

func (g *generatedCSV) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		switch {
		case g.i == 0:
			g.buf = []byte("id,answered_at,score,account\n")
		case g.i > g.n:
			return 0, io.EOF
		default:
			at := jsonFrom.Add(time.Duration(g.i) * time.Second)
			g.buf = fmt.Appendf(nil, "%d,%s,%d,acct-%03d\n", g.i, at.Format(time.RFC3339), g.i%11, g.i%250)
		}
		g.i++
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

func TestCSVStreamsAnExportOfAnySize(t *testing.T) {
	const n = 300_000
	src, err := OpenCSV(CSVConfig{Name: "configmap cx/export key responses.csv", Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(&generatedCSV{n: n}), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	def := measure.Definition{Formula: measure.FormulaNPS}
	q := Query{Table: RecordsTable, Value: "score", Time: "answered_at", Segments: []string{"account"}}
	res, err := src.Query(context.Background(), def, q, jsonFrom, jsonTo)
	if err != nil {
		t.Fatal(err)
	}
	if res.Overall.Total.N != n || len(res.Segments) != 250 {
		t.Fatalf("%d records in %d segments, want %d in 250", res.Overall.Total.N, len(res.Segments), n)
	}
	for k := int64(0); k <= 10; k++ {
		want := int64(n / 11)
		if k >= 1 && k <= n%11 {
			want++
		}
		if res.Overall.Scores.Get(k).N != want {
			t.Fatalf("score %d: %d, want %d", k, res.Overall.Scores.Get(k).N, want)
		}
	}
	// A window that ends earlier counts only the records before its end.
	res, err = src.Query(context.Background(), def, q, jsonFrom, jsonFrom.Add(1000*time.Second))
	if err != nil || res.Overall.Total.N != 999 {
		t.Fatalf("short window: %v, %d records", err, res.Overall.Total.N)
	}
}

func BenchmarkCSVStream(b *testing.B) {
	const n = 100_000
	src, _ := OpenCSV(CSVConfig{Name: "generated", Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(&generatedCSV{n: n}), nil
	}})
	def := measure.Definition{Formula: measure.FormulaNPS}
	q := Query{Table: RecordsTable, Value: "score", Time: "answered_at", Segments: []string{"account"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.Query(context.Background(), def, q, jsonFrom, jsonTo); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}

func TestCSVRejectsBadInputClearly(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ok.csv", "at;score;team\n2026-03-02;5;eu\n")
	write("bad-time.csv", "at,score\n2026-03-02T00:00:00Z,5\nyesterday,4\n")
	write("ragged.csv", "at,score\n2026-03-02T00:00:00Z,5,extra\n")
	write("empty.csv", "")
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.csv"), []byte("at,score\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.csv"), filepath.Join(dir, "link.csv")); err != nil {
		t.Fatal(err)
	}
	q := Query{Table: RecordsTable, Value: "score", Time: "at"}
	for _, tc := range []struct {
		path, message string
		q             Query
		delim         rune
		want          error
	}{
		{"../secret.csv", "leaves the data roots", q, 0, ErrPathNotAllowed},
		{"link.csv", "outside the data root", q, 0, ErrPathNotAllowed},
		{"/etc/passwd", "relative", q, 0, ErrPathNotAllowed},
		{"bad-time.csv", "line 3", q, 0, ErrBadQuery},
		{"ragged.csv", "wrong number of fields", q, 0, ErrBadQuery},
		{"empty.csv", "first line must name the columns", q, 0, ErrBadQuery},
		{"ok.csv", `no column "score"`, q, 0, ErrBadQuery},
		{"ok.csv", `no column "region"`, Query{Table: RecordsTable, Value: "score", Time: "at", Segments: []string{"region"}}, ';', ErrBadQuery},
		{"ok.csv", "not SQL or PromQL", Query{SQL: "SELECT 1", Value: "score", Time: "at"}, ';', ErrBadQuery},
		{"ok.csv", `one table, "records"`, Query{Table: "responses", Value: "score", Time: "at"}, ';', ErrBadQuery},
	} {
		src, err := OpenCSV(CSVConfig{Path: tc.path, Roots: []string{dir}, Delimiter: tc.delim})
		if err == nil {
			_, err = src.Query(context.Background(), csatDef, tc.q, jsonFrom, jsonTo)
		}
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.message) {
			t.Fatalf("%s: %v, want %v mentioning %q", tc.path, err, tc.want, tc.message)
		}
	}
	src, err := OpenCSV(CSVConfig{Path: "ok.csv", Roots: []string{dir}, Delimiter: ';'})
	if err != nil {
		t.Fatal(err)
	}
	res, err := src.Query(context.Background(), csatDef, Query{Table: RecordsTable, Value: "score", Time: "at", Segments: []string{"team"}}, jsonFrom, jsonTo)
	if err != nil || res.Segments["team=eu"].Stats.Scores.Get(5).N != 1 {
		t.Fatalf("semicolon-separated file: %v %+v", err, res)
	}
	if err := src.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}
