package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// anonymousMappings splits the resident anonymous memory of process pid
// (/proc/PID/smaps) into the largest mapping's and the rest, in bytes.
// The Go runtime reserves its heap as one growing range, so the largest
// anonymous mapping of the manager is the Go heap's arena; the rest is
// what SQLite's allocator, the runtime's own structures and the threads'
// stacks map beside it. Read at the same moment as each other, unlike the
// runtime's gauges, which a scrape reads a moment before /proc.
func anonymousMappings(pid int) (largest, rest float64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var total float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Anonymous:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		if err != nil {
			return 0, 0, err
		}
		total += kb * 1024
		largest = max(largest, kb*1024)
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	return largest, total - largest, nil
}
