package source

import (
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
