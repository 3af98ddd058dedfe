package measure

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// Scores merged in any order hold each score once, ascending, with the
// sums a map of cells would hold, and encode as that map does.
func TestScoresMatchAMapOfCells(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var s Stats
	want := map[int64]Cell{}
	for range 500 {
		k, w := int64(r.IntN(11)), r.Float64()
		s.AddScore(k, w)
		c := want[k]
		c.Add(w)
		want[k] = c
	}
	if len(s.Scores) != len(want) {
		t.Fatalf("%d scores, want %d", len(s.Scores), len(want))
	}
	for i, c := range s.Scores {
		if i > 0 && s.Scores[i-1].Score >= c.Score {
			t.Fatalf("scores out of order: %v", s.Scores)
		}
		if c.Cell != want[c.Score] {
			t.Fatalf("score %d: %+v, want %+v", c.Score, c.Cell, want[c.Score])
		}
	}
	if got := s.Scores.Get(11); got != (Cell{}) {
		t.Fatalf("a score without units: %+v", got)
	}
	got, err := json.Marshal(s.Scores)
	if err != nil {
		t.Fatal(err)
	}
	asMap, _ := json.Marshal(want)
	if string(got) != string(asMap) {
		t.Fatalf("JSON %s, a map's %s", got, asMap)
	}
	var back Scores
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	for k, c := range want {
		if back.Get(k) != c {
			t.Fatalf("decoded score %d: %+v, want %+v", k, back.Get(k), c)
		}
	}

	// A clone is merged into without touching the original.
	orig := s.Clone()
	c := s.Clone()
	c.MergeScore(20, Cell{N: 1, W: 1, W2: 1})
	c.MergeScore(0, Cell{N: 1, W: 1, W2: 1})
	if len(s.Scores) != len(orig.Scores) || s.Scores.Get(0) != orig.Scores.Get(0) {
		t.Fatalf("merging into a clone changed the original: %v", s.Scores)
	}
}
