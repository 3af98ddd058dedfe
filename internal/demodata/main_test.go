package demodata

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// testScale keeps the shared warehouse small enough for a quick test run
// and large enough that the aggregates the tests check are tight.
const testScale = 0.5

var (
	shared        Summary
	sharedScript  Script
	sharedWorkDir string
)

// TestMain generates one warehouse at testScale that the read-only tests
// share.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "demodata-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedWorkDir = dir
	sharedScript = DefaultScript()
	sharedScript.Scale = testScale
	shared, err = Generate(filepath.Join(dir, "warehouse.db"), sharedScript)
	if err != nil {
		fmt.Fprintln(os.Stderr, "generate the shared warehouse:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// openReadOnly opens a generated warehouse the way a source does.
func openReadOnly(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_time_format=datetime")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// scalar runs a query that returns one number.
func scalar(t *testing.T, db *sql.DB, query string, args ...any) float64 {
	t.Helper()
	var v sql.NullFloat64
	if err := db.QueryRow(query, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if !v.Valid {
		t.Fatalf("%s: NULL", query)
	}
	return v.Float64
}
