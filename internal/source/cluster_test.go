package source

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cxloop/cxloop/internal/measure"
)

// clusterRows are responses of four accounts in two regions, and one
// outside the window; "" is NULL. Account a answers twice in emea, c
// once rated and once not in amer, d with a score off the NPS scale.
var clusterTable = exportedTable{
	columns: []string{"at", "account", "region", "score", "effort", "w", "num", "den"},
	rows: [][]string{
		{"2026-03-01 01:00:00", "a", "emea", "10", "2", "2", "3", "2"},
		{"2026-03-01 02:00:00", "a", "emea", "9", "4", "1", "1", "1"},
		{"2026-03-01 03:00:00", "b", "emea", "3", "6", "1", "0", "2"},
		{"2026-03-01 04:00:00", "c", "amer", "7", "", "3", "4", "4"},
		{"2026-03-01 05:00:00", "c", "amer", "", "5", "1", "", "1"},
		{"2026-03-01 06:00:00", "d", "amer", "11", "1", "1", "2", "2"},
		{"2026-02-28 23:00:00", "a", "emea", "0", "7", "5", "9", "1"},
	},
}

var clusterFrom, clusterTo = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// clusterCases are the metrics of the cross-driver test with the cluster
// sums of the whole population worked out by hand from clusterTable.
var clusterCases = []struct {
	name string
	def  measure.Definition
	q    Query
	want measure.Clusters
}{
	// Exclude: a {10, 9}, b {3}, c {7}; d's 11 is rejected, c's NULL unrated.
	{"nps", measure.Definition{Formula: measure.FormulaNPS}, Query{Value: "score"},
		measure.Clusters{G: 3, Pairs: map[measure.ScorePair]float64{{Lo: 3, Hi: 3}: 1, {Lo: 7, Hi: 7}: 1, {Lo: 9, Hi: 9}: 1, {Lo: 9, Hi: 10}: 1, {Lo: 10, Hi: 10}: 1}}},
	// Weighted: a {10: 2, 9: 1}, b {3: 1}, c {7: 3}.
	{"nps weighted", measure.Definition{Formula: measure.FormulaNPS}, Query{Value: "score", Weight: "w"},
		measure.Clusters{G: 3, Pairs: map[measure.ScorePair]float64{{Lo: 3, Hi: 3}: 1, {Lo: 7, Hi: 7}: 9, {Lo: 9, Hi: 9}: 1, {Lo: 9, Hi: 10}: 2, {Lo: 10, Hi: 10}: 4}}},
	// Unrated as detractors: c's unrated unit pairs with its 7.
	{"nps unrated as detractor", measure.Definition{Formula: measure.FormulaNPS, Unrated: measure.UnratedCountAsNegative}, Query{Value: "score"},
		measure.Clusters{G: 3, Pairs: map[measure.ScorePair]float64{{Lo: 3, Hi: 3}: 1, {Lo: 7, Hi: 7}: 1, {Lo: 9, Hi: 9}: 1, {Lo: 9, Hi: 10}: 1, {Lo: 10, Hi: 10}: 1,
			{Lo: measure.UnratedScore, Hi: 7}: 1, {Lo: measure.UnratedScore, Hi: measure.UnratedScore}: 1}}},
	// (S_c, W_c): a (2·2 + 4, 3), b (6, 1), c (5, 1), d (1, 1).
	{"ces weighted", measure.Definition{Formula: measure.FormulaCES}, Query{Value: "effort", Weight: "w"},
		measure.Clusters{G: 4, SumSS: 64 + 36 + 25 + 1, SumSW: 24 + 6 + 5 + 1, SumWW: 9 + 1 + 1 + 1}},
	// (Num_c, Den_c): a (2·3 + 1, 2·2 + 1), b (0, 2), c (3·4, 3·4), d (2, 2).
	{"ratio weighted", measure.Definition{Formula: measure.FormulaRatio}, Query{Numerator: "num", Denominator: "den", Weight: "w"},
		measure.Clusters{G: 4, SumNumNum: 49 + 0 + 144 + 4, SumDenDen: 25 + 4 + 144 + 4, SumNumDen: 35 + 0 + 144 + 4}},
	// Over 4: a {0, 0}, b {1}, c {1}, d {0}: pairs of the over flag.
	{"share over", measure.Definition{Formula: measure.FormulaPercentile, Percentile: 50, ShareOver: ptr(4.0)}, Query{Value: "effort"},
		measure.Clusters{G: 4, Pairs: map[measure.ScorePair]float64{{Lo: 0, Hi: 0}: 4 + 1, {Lo: 1, Hi: 1}: 1 + 1}}},
}

func ptr[T any](v T) *T { return &v }

// TestClusterSumsAgreeAcrossSources: SQLite, CSV, HTTP JSON and (under
// hack/with-services.sh) PostgreSQL compute the same cluster sums from the
// same rows, equal to the sums worked out by hand, overall and per segment.
func TestClusterSumsAgreeAcrossSources(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "clusters.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{`CREATE TABLE responses (at TEXT, account TEXT, region TEXT, score INTEGER, effort REAL, w REAL, num REAL, den REAL)`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range clusterTable.rows {
		args := make([]any, len(r))
		for i, v := range r {
			if v != "" {
				args[i] = v
			}
		}
		if _, err := db.Exec(`INSERT INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	lite, err := OpenSQLite(SQLiteConfig{Path: "clusters.db", Roots: []string{dir}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	clusterTable.writeCSV(t, filepath.Join(dir, "responses.csv"), ',')
	csvSrc, err := OpenCSV(CSVConfig{Path: "responses.csv", Roots: []string{dir}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	numeric := map[string]bool{"score": true, "effort": true, "w": true, "num": true, "den": true}
	srv := pagedServer(t, clusterTable.jsonRecords(numeric, map[string]bool{"account": true}), 3, Cursor)
	jsonSrc, err := OpenHTTPJSON(HTTPJSONConfig{URL: srv.URL + "/v1/responses", Pagination: Cursor, CursorPath: "meta.next_cursor",
		CursorParam: "after", RecordsPath: "data", Network: loopback(t), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string]func(Query) Query{
		"SQLite":    func(q Query) Query { q.Table = "responses"; return q },
		"CSV":       func(q Query) Query { q.Table = RecordsTable; return q },
		"HTTP JSON": func(q Query) Query { q.Table, q.Cluster = RecordsTable, "customer.account"; return q },
	}
	open := map[string]Source{"SQLite": lite, "CSV": csvSrc, "HTTP JSON": jsonSrc}
	if pg := clusterPostgres(t); pg != nil {
		open["PostgreSQL"] = pg
		sources["PostgreSQL"] = func(q Query) Query { q.Table = "cluster_responses"; return q }
	}
	for _, tc := range clusterCases {
		var ref *Result
		for _, name := range []string{"SQLite", "CSV", "HTTP JSON", "PostgreSQL"} {
			src, ok := open[name]
			if !ok {
				continue
			}
			q := tc.q
			q.Time, q.Cluster, q.Segments = "at", "account", []string{"region"}
			q = sources[name](q)
			res, err := src.Query(context.Background(), tc.def, q, clusterFrom, clusterTo)
			if err != nil {
				t.Fatalf("%s on %s: %v", tc.name, name, err)
			}
			what := tc.name + " on " + name
			if err := tc.def.CheckStats(res.Overall); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if err := sameClusters(res.Overall.Clusters, &tc.want); err != nil {
				t.Errorf("%s overall: %v\ngot %+v", what, err, res.Overall.Clusters)
			}
			if ref == nil {
				ref = res
				continue
			}
			sameStats(t, what, res.Overall, ref.Overall)
			if len(res.Segments) != len(ref.Segments) {
				t.Fatalf("%s: %d segments, want %d", what, len(res.Segments), len(ref.Segments))
			}
			for k, s := range ref.Segments {
				g, ok := res.Segments[k]
				if !ok {
					t.Fatalf("%s: no segment %q", what, k)
				}
				if err := sameClusters(g.Stats.Clusters, s.Stats.Clusters); err != nil {
					t.Errorf("%s %s: %v", what, k, err)
				}
			}
			for _, pair := range [][2]float64{{res.Overall.Moments.SumW2X, ref.Overall.Moments.SumW2X},
				{res.Overall.Moments.SumW2X2, ref.Overall.Moments.SumW2X2}, {res.Overall.Ratio.SumW2Num2, ref.Overall.Ratio.SumW2Num2},
				{res.Overall.Ratio.SumW2Den2, ref.Overall.Ratio.SumW2Den2}, {res.Overall.Ratio.SumW2NumDen, ref.Overall.Ratio.SumW2NumDen}} {
				if !close(pair[0], pair[1]) {
					t.Errorf("%s: w² sum %v, want %v", what, pair[0], pair[1])
				}
			}
		}
	}
}

// TestWeightSquaredSumsByHand: the weighted CES sums by w² of an
// unclustered CSV query, worked out from clusterTable; without a cluster
// column there are no cluster sums.
func TestWeightSquaredSumsByHand(t *testing.T) {
	dir := t.TempDir()
	clusterTable.writeCSV(t, filepath.Join(dir, "r.csv"), ',')
	src, err := OpenCSV(CSVConfig{Path: "r.csv", Roots: []string{dir}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	res, err := src.Query(context.Background(), measure.Definition{Formula: measure.FormulaCES},
		Query{Table: RecordsTable, Value: "effort", Weight: "w", Time: "at"}, clusterFrom, clusterTo)
	if err != nil {
		t.Fatal(err)
	}
	// Σw²x = 4·2 + 4 + 6 + 5 + 1, Σw²x² = 4·4 + 16 + 36 + 25 + 1.
	if m := res.Overall.Moments; m.SumW2X != 24 || m.SumW2X2 != 94 || res.Overall.Clusters != nil {
		t.Errorf("moments %+v, clusters %+v", m, res.Overall.Clusters)
	}
	// A total has no sampling variance to cluster: the column is ignored.
	res, err = src.Query(context.Background(), measure.Definition{Formula: measure.FormulaSum},
		Query{Table: RecordsTable, Value: "effort", Time: "at", Cluster: "account"}, clusterFrom, clusterTo)
	if err != nil || res.Overall.Clusters != nil || res.Overall.Moments.SumWX != 18 {
		t.Errorf("sum clustered by account: %v, clusters %+v, Σx %v", err, res.Overall.Clusters, res.Overall.Moments.SumWX)
	}
}

func sameClusters(got, want *measure.Clusters) error {
	if got == nil || want == nil {
		if got != want {
			return errors.New("cluster sums on one side only")
		}
		return nil
	}
	if got.G != want.G {
		return fmt.Errorf("%d clusters, want %d", got.G, want.G)
	}
	if len(got.Pairs) != len(want.Pairs) {
		return fmt.Errorf("%d pairs %v, want %d %v", len(got.Pairs), got.Pairs, len(want.Pairs), want.Pairs)
	}
	for k, v := range want.Pairs {
		if !close(got.Pairs[k], v) {
			return fmt.Errorf("pair %v = %v, want %v", k, got.Pairs[k], v)
		}
	}
	for _, p := range [][2]float64{{got.SumSS, want.SumSS}, {got.SumSW, want.SumSW}, {got.SumWW, want.SumWW},
		{got.SumNumNum, want.SumNumNum}, {got.SumDenDen, want.SumDenDen}, {got.SumNumDen, want.SumNumDen}} {
		if !close(p[0], p[1]) {
			return fmt.Errorf("sum %v, want %v", p[0], p[1])
		}
	}
	return nil
}

// clusterPostgres loads clusterTable into the PostgreSQL server that
// hack/with-services.sh starts, or returns nil without one.
func clusterPostgres(t *testing.T) Source {
	t.Helper()
	outer := t
	var pg Source
	t.Run("postgres", func(t *testing.T) {
		u := postgresDSN(t)
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		for _, ddl := range []string{`DROP TABLE IF EXISTS cluster_responses`,
			`CREATE TABLE cluster_responses (at timestamp, account text, region text, score integer, effort double precision, w double precision, num double precision, den double precision)`} {
			if _, err := conn.Exec(ctx, ddl); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range clusterTable.rows {
			args := make([]any, len(r))
			for i, v := range r {
				if v != "" {
					args[i] = v
				}
			}
			if _, err := conn.Exec(ctx, `INSERT INTO cluster_responses VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, args...); err != nil {
				t.Fatal(err)
			}
		}
		pw, _ := u.User.Password()
		pg = openPostgres(outer, u, pw, 10*time.Second)
	})
	return pg
}

// A cluster column is an identifier like every other column: anything
// else is refused before the database sees it.
func TestClusterColumnIsAnIdentifier(t *testing.T) {
	_, err := clusterAggregate(sqliteDialect, measure.Definition{Formula: measure.FormulaNPS},
		Query{Table: "responses", Value: "score", Time: "at", Cluster: "account) OR (1=1"}, clusterFrom, clusterTo)
	if !errors.Is(err, ErrBadQuery) {
		t.Fatalf("got %v, want ErrBadQuery", err)
	}
}

// A Prometheus source has series, not responses: a cluster column is a
// bad query, not silently ignored.
func TestPrometheusRefusesClusters(t *testing.T) {
	_, err := promExpressions(measure.Definition{Formula: measure.FormulaValue}, Query{PromQL: "up", Cluster: "account"}, time.Hour)
	if !errors.Is(err, ErrBadQuery) {
		t.Fatalf("got %v, want ErrBadQuery", err)
	}
}
