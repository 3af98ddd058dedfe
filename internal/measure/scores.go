package measure

import (
	"cmp"
	"encoding/json"
	"iter"
	"slices"
)

// Scores holds one Cell per integer score, in ascending order of score. A
// history's bucket of one segment holds a few scores (an account that
// answered once that day holds one), so a sorted slice keeps each in 32
// bytes where a map takes a group of eight slots, about 320 bytes, at
// least; a 10,000-account Metric's history holds 50,000 of them. Its
// JSON is an object keyed by score, as a map's.
type Scores []ScoreCell

// ScoreCell is the units of one score.
type ScoreCell struct {
	Score int64
	Cell
}

// find is where score k is, or would be inserted, and whether it is.
func (s Scores) find(k int64) (int, bool) {
	return slices.BinarySearchFunc(s, k, func(c ScoreCell, k int64) int { return cmp.Compare(c.Score, k) })
}

// Get returns the cell of score k, zero when no unit has it.
func (s Scores) Get(k int64) Cell {
	if i, ok := s.find(k); ok {
		return s[i].Cell
	}
	return Cell{}
}

// merge adds c under score k.
func (s *Scores) merge(k int64, c Cell) {
	i, ok := s.find(k)
	if ok {
		(*s)[i].Cell.Merge(c)
		return
	}
	*s = slices.Insert(*s, i, ScoreCell{Score: k, Cell: c})
}

// All yields every score and its cell, in ascending order of score.
func (s Scores) All() iter.Seq2[int64, Cell] {
	return func(yield func(int64, Cell) bool) {
		for _, c := range s {
			if !yield(c.Score, c.Cell) {
				return
			}
		}
	}
}

// MarshalJSON writes the cells as an object keyed by score.
func (s Scores) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("null"), nil
	}
	m := make(map[int64]Cell, len(s))
	for _, c := range s {
		m[c.Score] = c.Cell
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads an object keyed by score.
func (s *Scores) UnmarshalJSON(b []byte) error {
	var m map[int64]Cell
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if m == nil {
		*s = nil
		return nil
	}
	out := make(Scores, 0, len(m))
	for k, c := range m {
		out = append(out, ScoreCell{Score: k, Cell: c})
	}
	slices.SortFunc(out, func(a, b ScoreCell) int { return cmp.Compare(a.Score, b.Score) })
	*s = out
	return nil
}
