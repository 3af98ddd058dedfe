package main

import (
	"fmt"
	"runtime/debug"
	"strconv"

	"github.com/cxloop/cxloop/internal/source"
)

// memoryLimitEnv names the container's memory limit in bytes, which the
// manifests pass from the Pod's limits.memory (resourceFieldRef).
const memoryLimitEnv = "CXLOOP_MEMORY_LIMIT"

// reservedBytes is what the manager's resident set holds beside the Go
// heap and SQLite's own heap: the binary's pages and the other mappings
// of the runtime, the allocator and the threads (bench/scale: about 50
// and 25 MiB).
const reservedBytes = 80 << 20

// memoryLimits splits a container's memory limit between SQLite's heap,
// an eighth of it and at most source.MaxSQLiteHeapBytes, and the Go
// runtime's soft limit, what remains less reservedBytes but never under
// half the container's: a Go limit of the whole container would leave
// SQLite's heap and the binary's pages nowhere to live, and the kernel
// would kill a manager the runtime thought within bounds.
func memoryLimits(container int64) (goLimit, sqlite int64) {
	sqlite = min(source.MaxSQLiteHeapBytes, container/8)
	goLimit = max(container/2, container-sqlite-reservedBytes)
	return goLimit, sqlite
}

// applyMemoryLimit sets SQLite's heap limit and, unless GOMEMLIMIT is set
// (the runtime then follows it), the Go runtime's soft limit from the
// container's memory limit in env; it describes what it set, or nothing
// when the limit is not given.
func applyMemoryLimit(env func(string) string) (string, error) {
	v := env(memoryLimitEnv)
	if v == "" {
		return "", nil
	}
	container, err := strconv.ParseInt(v, 10, 64)
	if err != nil || container <= 0 {
		return "", fmt.Errorf("%s=%q: want the container's memory limit, a positive number of bytes", memoryLimitEnv, v)
	}
	goLimit, sqlite := memoryLimits(container)
	if err := source.SetSQLiteHeapLimit(sqlite); err != nil {
		return "", err
	}
	from := "of " + memoryLimitEnv
	if env("GOMEMLIMIT") != "" {
		goLimit, from = debug.SetMemoryLimit(-1), "from GOMEMLIMIT"
	} else {
		debug.SetMemoryLimit(goLimit)
	}
	mib := func(b int64) int64 { return b >> 20 }
	return fmt.Sprintf("container %d MiB: Go heap soft limit %d MiB (%s), SQLite heap %d MiB", mib(container), mib(goLimit), from, mib(sqlite)), nil
}
