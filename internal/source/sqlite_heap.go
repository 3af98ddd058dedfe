package source

import (
	"fmt"
	"unsafe"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// MaxSQLiteHeapBytes bounds the memory SQLite allocates for every SQLite
// query of the process together (sqlite3_hard_heap_limit64): its page
// caches, sorters and values live outside Go's heap, where no other limit
// reaches. A query that needs more fails with ErrTooLarge; queries
// running beside it may fail the same way and are retried at the next
// evaluation. SQLite spills sorts past its page cache to temporary files,
// so an aggregation needs far less than its data.
const MaxSQLiteHeapBytes = 256 << 20

// sqliteHeapErr is why the heap limit could not be set, if it could not.
var sqliteHeapErr = limitSQLiteHeap(MaxSQLiteHeapBytes)

// limitSQLiteHeap enables SQLite's memory accounting, which the driver's
// build leaves off (SQLITE_DEFAULT_MEMSTATUS=0) and without which the heap
// limit is not enforced, and sets the limit. Accounting can only be
// switched on while SQLite is shut down, so this runs while the package
// is initialised, before any connection is opened.
func limitSQLiteHeap(limit int64) error {
	tls := libc.NewTLS()
	defer tls.Close()
	if rc := sqlite3.Xsqlite3_shutdown(tls); rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("sqlite3_shutdown: %d", rc)
	}
	va := libc.Xmalloc(tls, types.Size_t(unsafe.Sizeof(uintptr(0))))
	if va == 0 {
		return fmt.Errorf("sqlite: out of memory allocating va_list")
	}
	rc := sqlite3.Xsqlite3_config(tls, int32(sqlite3.SQLITE_CONFIG_MEMSTATUS), libc.VaList(va, int32(1)))
	libc.Xfree(tls, va)
	if rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("sqlite3_config(SQLITE_CONFIG_MEMSTATUS): %d", rc)
	}
	if rc := sqlite3.Xsqlite3_initialize(tls); rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("sqlite3_initialize: %d", rc)
	}
	sqlite3.Xsqlite3_hard_heap_limit64(tls, limit)
	if got := sqlite3.Xsqlite3_hard_heap_limit64(tls, -1); got != limit {
		return fmt.Errorf("sqlite3_hard_heap_limit64 is %d, want %d", got, limit)
	}
	return nil
}

// SetSQLiteHeapLimit lowers or raises the bound on SQLite's heap from
// MaxSQLiteHeapBytes to limit bytes, for a manager whose container holds
// less memory than that leaves room for.
func SetSQLiteHeapLimit(limit int64) error {
	if sqliteHeapErr != nil {
		return sqliteHeapErr
	}
	if limit <= 0 {
		return fmt.Errorf("SQLite heap limit %d: want a positive number of bytes", limit)
	}
	tls := libc.NewTLS()
	defer tls.Close()
	sqlite3.Xsqlite3_hard_heap_limit64(tls, limit)
	if got := sqlite3.Xsqlite3_hard_heap_limit64(tls, -1); got != limit {
		return fmt.Errorf("sqlite3_hard_heap_limit64 is %d, want %d", got, limit)
	}
	return nil
}

// SQLiteHeapLimit is the bound on SQLite's heap in force, in bytes.
func SQLiteHeapLimit() int64 {
	tls := libc.NewTLS()
	defer tls.Close()
	return sqlite3.Xsqlite3_hard_heap_limit64(tls, -1)
}

// SQLiteMemory is the memory SQLite holds outside Go's heap for every
// SQLite query of the process, and the most it has held, in bytes
// (sqlite3_memory_used, sqlite3_memory_highwater).
func SQLiteMemory() (used, highwater int64) {
	tls := libc.NewTLS()
	defer tls.Close()
	return sqlite3.Xsqlite3_memory_used(tls), sqlite3.Xsqlite3_memory_highwater(tls, 0)
}
