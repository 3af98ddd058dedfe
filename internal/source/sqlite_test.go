package source

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/demodata"
	"github.com/cxloop/cxloop/internal/measure"
)

// warehouse generates a small demo warehouse once per test binary.
var warehouseDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cxloop-source-")
	if err != nil {
		panic(err)
	}
	sc := demodata.DefaultScript()
	sc.Scale = 0.05
	if _, err := demodata.Generate(filepath.Join(dir, "warehouse.db"), sc); err != nil {
		panic(err)
	}
	warehouseDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func openWarehouse(t *testing.T) Source {
	t.Helper()
	src, err := OpenSQLite(SQLiteConfig{Path: "warehouse.db", Roots: []string{warehouseDir}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

var (
	t0   = demodata.DefaultT0
	from = t0.Add(-30 * 24 * time.Hour)
)

// rawRows reads every unit of a metric row by row and folds it in Go: the
// independent computation the pushed-down one must match exactly.
func rawRows(t *testing.T, def measure.Definition, q Query, query string, args ...any) (*measure.Stats, map[string]*measure.Stats) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(warehouseDir, "warehouse.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	overall := &measure.Stats{}
	segs := map[string]*measure.Stats{}
	for rows.Next() {
		var seg string
		var v, w sql.NullFloat64
		if err := rows.Scan(&seg, &v, &w); err != nil {
			t.Fatal(err)
		}
		r := measure.Row{Value: v.Float64, Valid: v.Valid, Weight: w.Float64}
		def.Fold(overall, r)
		key := q.Segments[0] + "=" + seg
		if segs[key] == nil {
			segs[key] = &measure.Stats{}
		}
		def.Fold(segs[key], r)
	}
	return overall, segs
}

func sameStats(t *testing.T, what string, got, want *measure.Stats) {
	t.Helper()
	if got.Total.N != want.Total.N || got.Unrated.N != want.Unrated.N || got.Rejected.N != want.Rejected.N {
		t.Fatalf("%s: counts total/unrated/rejected %d/%d/%d, want %d/%d/%d", what,
			got.Total.N, got.Unrated.N, got.Rejected.N, want.Total.N, want.Unrated.N, want.Rejected.N)
	}
	for k, c := range want.Scores.All() {
		if got.Scores.Get(k).N != c.N || !close(got.Scores.Get(k).W, c.W) || !close(got.Scores.Get(k).W2, c.W2) {
			t.Fatalf("%s: score %d = %+v, want %+v", what, k, got.Scores.Get(k), c)
		}
	}
	if len(got.Scores) != len(want.Scores) {
		t.Fatalf("%s: %d score cells, want %d", what, len(got.Scores), len(want.Scores))
	}
	for _, p := range [][2]float64{{got.Total.W, want.Total.W}, {got.Moments.SumWX, want.Moments.SumWX},
		{got.Moments.SumWX2, want.Moments.SumWX2}} {
		if !close(p[0], p[1]) {
			t.Fatalf("%s: sum %v, want %v", what, p[0], p[1])
		}
	}
	for i, c := range want.Sketch.Buckets {
		if got.Sketch.Buckets[i].N != c.N {
			t.Fatalf("%s: bucket %d holds %d, want %d", what, i, got.Sketch.Buckets[i].N, c.N)
		}
	}
}

func close(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b))
}

func TestSQLiteWeightedSegmentedNPSMatchesRowByRow(t *testing.T) {
	src := openWarehouse(t)
	def := measure.Definition{Formula: measure.FormulaNPS}
	q := Query{Table: "survey_responses", Value: "score", Time: "responded_at", Weight: "revenue_weight",
		Segments: []string{"persona"}, Filters: []Filter{{Column: "survey", Operator: Equals, Values: []string{"nps"}}}}
	res, err := src.Query(context.Background(), def, q, from, t0)
	if err != nil {
		t.Fatal(err)
	}
	overall, segs := rawRows(t, def, q, `SELECT persona, score, revenue_weight FROM survey_responses
		WHERE survey = 'nps' AND responded_at >= ? AND responded_at < ?`, from.Format(sqliteTimeLayout), t0.Format(sqliteTimeLayout))
	if overall.Total.N < 100 {
		t.Fatalf("fixture too small: %d responses", overall.Total.N)
	}
	sameStats(t, "overall", res.Overall, overall)
	if len(res.Segments) != len(segs) {
		t.Fatalf("%d segments, want %d", len(res.Segments), len(segs))
	}
	for key, want := range segs {
		got, ok := res.Segments[key]
		if !ok {
			t.Fatalf("segment %q missing", key)
		}
		sameStats(t, key, got.Stats, want)
	}
	if _, err := measure.Compute(def, res.Overall, 0.95, 30); err != nil {
		t.Fatalf("the statistics do not compute: %v", err)
	}
}

func TestSQLiteRefusesMoreSegmentsThanTheBound(t *testing.T) {
	src := openWarehouse(t)
	def := measure.Definition{Formula: measure.FormulaNPS}
	q := Query{Table: "survey_responses", Value: "score", Time: "responded_at", Segments: []string{"persona"},
		Filters: []Filter{{Column: "survey", Operator: Equals, Values: []string{"nps"}}}}
	res, err := src.Query(context.Background(), def, q, from, t0)
	if err != nil {
		t.Fatal(err)
	}
	n := len(res.Segments)
	if n < 2 {
		t.Fatalf("fixture has %d personas, want several", n)
	}
	q.MaxSegments = n
	if _, err := src.Query(context.Background(), def, q, from, t0); err != nil {
		t.Fatalf("%d segments under a bound of %d: %v", n, n, err)
	}
	q.MaxSegments = n - 1
	if _, err := src.Query(context.Background(), def, q, from, t0); !errors.Is(err, ErrTooManySegments) {
		t.Fatalf("%d segments under a bound of %d: %v, want ErrTooManySegments", n, n-1, err)
	}
}

func TestSQLiteMeanAndPercentileMatchRowByRow(t *testing.T) {
	src := openWarehouse(t)
	over := 14400.0
	for _, tc := range []struct {
		def   measure.Definition
		q     Query
		query string
	}{
		{measure.Definition{Formula: measure.FormulaCES},
			Query{Table: "survey_responses", Value: "score", Time: "responded_at", Segments: []string{"stage"},
				Filters: []Filter{{Column: "survey", Operator: In, Values: []string{"ces"}}}},
			`SELECT stage, score, 1.0 FROM survey_responses WHERE survey = 'ces' AND responded_at >= ? AND responded_at < ?`},
		{measure.Definition{Formula: measure.FormulaPercentile, Percentile: 90, ShareOver: &over},
			Query{Table: "tickets", Value: "first_response_seconds", Time: "created_at", Segments: []string{"category"}},
			`SELECT category, first_response_seconds, 1.0 FROM tickets WHERE created_at >= ? AND created_at < ?`},
		{measure.Definition{Formula: measure.FormulaRate},
			Query{SQL: "SELECT resolved_at, category, first_contact_resolved FROM tickets", Value: "first_contact_resolved",
				Time: "resolved_at", Segments: []string{"category"}},
			`SELECT category, first_contact_resolved, 1.0 FROM tickets WHERE resolved_at >= ? AND resolved_at < ?`},
	} {
		res, err := src.Query(context.Background(), tc.def, tc.q, from, t0)
		if err != nil {
			t.Fatalf("%s: %v", tc.def.Formula, err)
		}
		overall, _ := rawRows(t, tc.def, tc.q, tc.query, from.Format(sqliteTimeLayout), t0.Format(sqliteTimeLayout))
		sameStats(t, tc.def.Formula, res.Overall, overall)
	}
}

func TestBadInputIsRejectedBeforeAnySQLRuns(t *testing.T) {
	src := openWarehouse(t)
	def := measure.Definition{Formula: measure.FormulaNPS}
	for name, q := range map[string]Query{
		"column":  {Table: "survey_responses", Value: "score; DROP TABLE survey_responses", Time: "responded_at"},
		"segment": {Table: "survey_responses", Value: "score", Time: "responded_at", Segments: []string{`persona" --`}},
		"filter":  {Table: "survey_responses", Value: "score", Time: "responded_at", Filters: []Filter{{Column: "1=1 OR survey", Operator: Equals, Values: []string{"x"}}}},
		"stacked": {SQL: "SELECT * FROM survey_responses; DELETE FROM survey_responses", Value: "score", Time: "responded_at"},
	} {
		if _, err := src.Query(context.Background(), def, q, from, t0); !errors.Is(err, ErrBadQuery) {
			t.Errorf("%s: got %v, want ErrBadQuery", name, err)
		}
	}
	// A filter value is bound, never spliced: an injection attempt just matches nothing.
	q := Query{Table: "survey_responses", Value: "score", Time: "responded_at",
		Filters: []Filter{{Column: "survey", Operator: Equals, Values: []string{"nps' OR '1'='1"}}}}
	res, err := src.Query(context.Background(), def, q, from, t0)
	if err != nil || res.Overall.Total.N != 0 {
		t.Fatalf("bound filter value: %v, %d units", err, res.Overall.Total.N)
	}
	// A user query that tries to write fails on the read-only connection.
	w := Query{SQL: "UPDATE survey_responses SET score = 0 RETURNING responded_at, score", Value: "score", Time: "responded_at"}
	if _, err := src.Query(context.Background(), def, w, from, t0); err == nil {
		t.Fatal("a writing subquery ran")
	}
}

func TestPathsStayInsideTheRoots(t *testing.T) {
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(warehouseDir, "escape")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(outside, "x.db"), nil, 0o600)
	for _, p := range []string{"/etc/passwd", "../etc/passwd", "escape/x.db", "a/../../x.db"} {
		if _, err := OpenSQLite(SQLiteConfig{Path: p, Roots: []string{warehouseDir}}); !errors.Is(err, ErrPathNotAllowed) {
			t.Errorf("%s: got %v, want ErrPathNotAllowed", p, err)
		}
	}
	if err := openWarehouse(t).Check(context.Background()); err != nil {
		t.Fatalf("check: %v", err)
	}
}
