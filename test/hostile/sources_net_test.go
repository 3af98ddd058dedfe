package hostile

import (
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the SQLite driver the operator reads with

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// promSource is a Prometheus DataSource at url with the canary Secret.
func promSource(url string) cxv1.DataSourceSpec {
	return cxv1.DataSourceSpec{Type: cxv1.DataSourcePrometheus, SecretRef: &cxv1.LocalObjectReference{Name: "creds"},
		Prometheus: &cxv1.PrometheusSource{URL: url}}
}

// promMetric reads a gauge with PromQL.
func promMetric(m *cxv1.Metric) {
	m.Spec.Formula = cxv1.FormulaValue
	m.Spec.Query = &cxv1.MetricQuery{PromQL: "sum(rate(shipments_on_time_total[$__window]))"}
	m.Spec.Objective.MinSamples = 0
}

// manySeries streams a vector of n series, each small: decoding them all
// would take far more memory than their JSON.
func manySeries(n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[`)
		for i := 0; i < n && r.Context().Err() == nil; i++ {
			if i > 0 {
				fmt.Fprint(w, ",")
			}
			fmt.Fprintf(w, `{"metric":{"pod":"p%d"},"value":[1770854400,"1"]}`, i)
		}
		fmt.Fprint(w, `]}}`)
	}
}

// hugeBody answers one series whose label is 40 MiB long, past the
// Prometheus answer's 32 MiB bound.
func hugeBody(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"`)
	chunk := strings.Repeat("p", 1<<20)
	for i := 0; i < 40 && r.Context().Err() == nil; i++ {
		fmt.Fprint(w, chunk)
	}
	fmt.Fprint(w, `"},"value":[1770854400,"1"]}]}}`)
}

func TestHostilePrometheusInputs(t *testing.T) {
	runSourceCases(t, []sourceCase{
		{name: "a-million-series", reason: "TooLarge", setup: func(t *testing.T, ns string) {
			credentialed(t, ns)
			srv := serve(t, manySeries(1_000_000))
			hostileSource(t, ns, promSource(srv.URL), promMetric)
		}},
		{name: "body-of-40MiB", reason: "TooLarge", setup: func(t *testing.T, ns string) {
			credentialed(t, ns)
			srv := serve(t, hugeBody)
			hostileSource(t, ns, promSource(srv.URL), promMetric)
		}},
		{name: "401-echoes-the-bearer-token", reason: "AuthFailed", setup: func(t *testing.T, ns string) {
			credentialed(t, ns)
			srv := echoServer(t, http.StatusUnauthorized)
			hostileSource(t, ns, promSource(srv.URL), promMetric)
		}},
		{name: "500-echoes-the-bearer-token", reason: "Unreachable", setup: func(t *testing.T, ns string) {
			credentialed(t, ns)
			srv := echoServer(t, http.StatusInternalServerError)
			hostileSource(t, ns, promSource(srv.URL), promMetric)
		}},
		{name: "redirect-to-metadata-address", reason: "AddressNotAllowed", setup: func(t *testing.T, ns string) {
			credentialed(t, ns)
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://169.254.169.254/api/v1/query", http.StatusTemporaryRedirect)
			})
			hostileSource(t, ns, promSource(srv.URL), promMetric)
		}},
		{name: "loopback-outside-the-allowance", reason: "AddressNotAllowed", setup: func(t *testing.T, ns string) {
			credentialed(t, ns)
			url, hits := refusedListener(t)
			hostileSource(t, ns, promSource(url), promMetric)
			t.Cleanup(func() {
				if n := hits.Load(); n != 0 {
					t.Errorf("the refused address was contacted %d times", n)
				}
			})
		}},
	})
}

// sqliteFile creates a SQLite database of CSAT responses under the data
// root and returns its path relative to it.
func sqliteFile(t *testing.T) string {
	t.Helper()
	f, err := os.CreateTemp(dataRoot, "responses-*.db")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	db, err := sql.Open("sqlite", f.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts := []string{"CREATE TABLE records (answered_at TEXT, score INTEGER, survey TEXT)"}
	for i := 0; i < 100; i++ {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO records VALUES ('2026-02-0%dT%02d:00:00Z', 5, 'csat')", 1+i%9, i%24))
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Base(f.Name())
}

func sqliteSource(path string) cxv1.DataSourceSpec {
	return cxv1.DataSourceSpec{Type: cxv1.DataSourceSQLite, SQLite: &cxv1.SQLiteSource{Path: path}}
}

// postgres is a PostgreSQL DataSource at host with canary credentials.
func postgres(t *testing.T, ns, host string) cxv1.DataSourceSpec {
	t.Helper()
	credentialed(t, ns)
	return cxv1.DataSourceSpec{Type: cxv1.DataSourcePostgres, SecretRef: &cxv1.LocalObjectReference{Name: "creds"},
		Postgres: &cxv1.PostgresSource{Host: host, Database: "warehouse"}}
}

func TestHostileSQLInputs(t *testing.T) {
	runSourceCases(t, []sourceCase{
		{name: "sqlite-randomblob-of-900MB", reason: "TooLarge", setup: func(t *testing.T, ns string) {
			hostileSource(t, ns, sqliteSource(sqliteFile(t)), func(m *cxv1.Metric) {
				m.Spec.Query = &cxv1.MetricQuery{SQL: "SELECT answered_at, score + length(randomblob(900000000)) AS score FROM records",
					Columns: &cxv1.QueryColumns{Value: "score", Time: "answered_at"}}
			})
		}},
		{name: "sqlite-statement-that-writes", reason: "BadQuery", setup: func(t *testing.T, ns string) {
			hostileSource(t, ns, sqliteSource(sqliteFile(t)), func(m *cxv1.Metric) {
				m.Spec.Query = &cxv1.MetricQuery{SQL: "SELECT * FROM records; DROP TABLE records",
					Columns: &cxv1.QueryColumns{Value: "score", Time: "answered_at"}}
			})
		}},
		{name: "sqlite-symlink-climbing-out", reason: "PathNotAllowed", setup: func(t *testing.T, ns string) {
			outside := filepath.Join(t.TempDir(), "outside.db")
			if err := os.WriteFile(outside, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			link := fmt.Sprintf("escape-%s.db", ns)
			if err := os.Symlink(outside, filepath.Join(dataRoot, link)); err != nil {
				t.Fatal(err)
			}
			hostileSource(t, ns, sqliteSource(link), plain)
		}},
		{name: "csv-symlink-climbing-out", reason: "PathNotAllowed", setup: func(t *testing.T, ns string) {
			link := fmt.Sprintf("passwd-%s.csv", ns)
			if err := os.Symlink("/etc/passwd", filepath.Join(dataRoot, link)); err != nil {
				t.Fatal(err)
			}
			hostileSource(t, ns, csvSource(link), plain)
		}},
		{name: "postgres-at-the-metadata-address", reason: "AddressNotAllowed", setup: func(t *testing.T, ns string) {
			hostileSource(t, ns, postgres(t, ns, "169.254.169.254"), plain)
		}},
		{name: "postgres-at-a-private-address", reason: "AddressNotAllowed", setup: func(t *testing.T, ns string) {
			hostileSource(t, ns, postgres(t, ns, "10.0.0.1"), plain)
		}},
		{name: "postgres-at-loopback-outside-the-allowance", reason: "AddressNotAllowed", setup: func(t *testing.T, ns string) {
			hostileSource(t, ns, postgres(t, ns, "127.0.0.2"), plain)
		}},
	})
}
