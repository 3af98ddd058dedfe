package source

import (
	"math/bits"
	"testing"
)

// The aligned runs tile every span exactly, in order, each run aligned on
// its own length, and no more than 2·log2 of the span's length of them.
func TestSpansTileEverySpanWithFewAlignedRuns(t *testing.T) {
	for i := 0; i < 300; i++ {
		for j := i + 1; j <= 300; j++ {
			next, count := i, 0
			err := spans(i, j, func(level, n int) error {
				if n<<level != next {
					t.Fatalf("[%d, %d): run (%d, %d) starts at %d, want %d", i, j, level, n, n<<level, next)
				}
				next += 1 << level
				count++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if next != j {
				t.Fatalf("[%d, %d): runs end at %d", i, j, next)
			}
			if most := 2 * bits.Len(uint(j-i)); count > most {
				t.Fatalf("[%d, %d): %d runs, more than %d", i, j, count, most)
			}
		}
	}
}
