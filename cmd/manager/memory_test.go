package main

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/cxloop/cxloop/internal/source"
)

func TestMemoryLimitsLeaveRoomBesideTheGoHeap(t *testing.T) {
	for _, tc := range []struct {
		container, goLimit, sqlite int64
	}{
		{512 << 20, 368 << 20, 64 << 20},
		{256 << 20, 144 << 20, 32 << 20},
		{4 << 30, 4<<30 - source.MaxSQLiteHeapBytes - reservedBytes, source.MaxSQLiteHeapBytes},
		// A small container keeps half for Go rather than nothing.
		{128 << 20, 64 << 20, 16 << 20},
	} {
		goLimit, sqlite := memoryLimits(tc.container)
		if goLimit != tc.goLimit || sqlite != tc.sqlite {
			t.Errorf("container %d MiB: Go %d MiB, SQLite %d MiB; want %d and %d", tc.container>>20, goLimit>>20, sqlite>>20, tc.goLimit>>20, tc.sqlite>>20)
		}
		if goLimit+sqlite > tc.container {
			t.Errorf("container %d MiB: Go and SQLite together %d MiB", tc.container>>20, (goLimit+sqlite)>>20)
		}
	}
}

// The container's limit sets SQLite's heap and the Go soft limit; a
// GOMEMLIMIT of the operator's own is kept; a bad value is refused.
func TestApplyMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	defer func(old int64) {
		if err := source.SetSQLiteHeapLimit(old); err != nil {
			t.Fatal(err)
		}
	}(source.SQLiteHeapLimit())
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }

	if got, err := applyMemoryLimit(env(nil)); err != nil || got != "" {
		t.Fatalf("without a limit: %q, %v", got, err)
	}
	got, err := applyMemoryLimit(env(map[string]string{memoryLimitEnv: "536870912"}))
	if err != nil {
		t.Fatal(err)
	}
	if debug.SetMemoryLimit(-1) != 368<<20 || source.SQLiteHeapLimit() != 64<<20 {
		t.Fatalf("Go limit %d, SQLite %d after %q", debug.SetMemoryLimit(-1), source.SQLiteHeapLimit(), got)
	}

	debug.SetMemoryLimit(300 << 20)
	got, err = applyMemoryLimit(env(map[string]string{memoryLimitEnv: "536870912", "GOMEMLIMIT": "300MiB"}))
	if err != nil || debug.SetMemoryLimit(-1) != 300<<20 || !strings.Contains(got, "GOMEMLIMIT") {
		t.Fatalf("GOMEMLIMIT given: Go limit %d, %q, %v", debug.SetMemoryLimit(-1), got, err)
	}

	for _, bad := range []string{"512Mi", "-1", "0"} {
		if _, err := applyMemoryLimit(env(map[string]string{memoryLimitEnv: bad})); err == nil || !strings.Contains(err.Error(), memoryLimitEnv) {
			t.Errorf("%s=%q: %v, want an error naming it", memoryLimitEnv, bad, err)
		}
	}
}
