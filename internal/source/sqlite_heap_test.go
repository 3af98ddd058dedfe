package source

import (
	"context"
	"sync"
	"testing"
)

// setSQLiteHeapLimitForTest lowers the process's SQLite heap limit for one
// test and restores it after.
func setSQLiteHeapLimitForTest(t *testing.T, limit int64) {
	prev := SQLiteHeapLimit()
	if err := SetSQLiteHeapLimit(limit); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := SetSQLiteHeapLimit(prev); err != nil {
			t.Error(err)
		}
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

// After queries in parallel, a SQLite DataSource keeps one connection
// idle: each holds memory outside Go's heap.
func TestSQLiteKeepsOneIdleConnection(t *testing.T) {
	src := openWarehouse(t)
	tc := historyCases()[0]
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := src.Query(context.Background(), tc.def, tc.q, t0.AddDate(0, 0, -90), t0)
			errs <- err
		}()
	}
	wg.Wait()
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st := src.(*sqlSource).db.Stats()
	if st.MaxOpenConnections != 4 || st.Idle != 1 || st.OpenConnections != 1 {
		t.Fatalf("%d connections at most, %d open, %d idle after 4 queries at once; want 4, 1 and 1", st.MaxOpenConnections, st.OpenConnections, st.Idle)
	}
	if st.MaxIdleClosed == 0 {
		t.Errorf("no connection closed for the idle bound: the queries did not run at once (%+v)", st)
	}
}
