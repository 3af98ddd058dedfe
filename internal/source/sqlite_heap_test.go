package source

import (
	"context"
	"testing"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// setSQLiteHeapLimitForTest lowers the process's SQLite heap limit for one
// test and restores it after.
func setSQLiteHeapLimitForTest(t *testing.T, limit int64) {
	tls := libc.NewTLS()
	defer tls.Close()
	prev := sqlite3.Xsqlite3_hard_heap_limit64(tls, limit)
	t.Cleanup(func() {
		tls := libc.NewTLS()
		defer tls.Close()
		sqlite3.Xsqlite3_hard_heap_limit64(tls, prev)
	})
}

// SQLite's memory is counted while a source holds connections, and the
// high-water mark is never below what is held.
func TestSQLiteMemoryIsCounted(t *testing.T) {
	src := openWarehouse(t)
	tc := historyCases()[0]
	if _, err := src.Query(context.Background(), tc.def, tc.q, t0.AddDate(0, 0, -30), t0); err != nil {
		t.Fatal(err)
	}
	used, high := SQLiteMemory()
	if used <= 0 || high < used {
		t.Fatalf("SQLite holds %d bytes, at most %d: want some held, and a high-water mark at least that", used, high)
	}
}
