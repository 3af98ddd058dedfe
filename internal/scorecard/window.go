package scorecard

import (
	"context"
	"fmt"
	"time"

	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/source"
)

// MemberSource is a member with what reads it: its Metric as the engine
// sees it, the Metric's connected source, the columns its key and persona
// are read from, and the fewest samples a reading needs.
type MemberSource struct {
	Member                   Member
	Metric                   engine.Metric
	Source                   source.Source
	KeyColumn, PersonaColumn string
	MinSamples               int64
}

// ScoreBetween scores every key with each member read over the same
// units, those whose time lies in [from, to): in's members and readings
// are replaced by the members'. A window scored this way is the unit of a
// Scorecard's decisions (Policy), which need every member over one span,
// not each over its own latest window.
func ScoreBetween(ctx context.Context, members []MemberSource, in Input, from, to time.Time) (Result, error) {
	in.Members, in.Readings = nil, nil
	for _, ms := range members {
		r, err := ReadBetween(ctx, ms.Source, ms.Metric, ms.KeyColumn, ms.PersonaColumn, ms.MinSamples, in.Confidence, from, to)
		if err != nil {
			return Result{}, fmt.Errorf("member %s: %w", ms.Member.Name, err)
		}
		in.Members = append(in.Members, ms.Member)
		in.Readings = append(in.Readings, r)
	}
	return Compute(in)
}

// ForKey is the members narrowed to one key's units: each member's query
// filters its key column on the key, so reading one account does not
// group every account.
func ForKey(members []MemberSource, key string) []MemberSource {
	out := make([]MemberSource, len(members))
	for i, ms := range members {
		q := ms.Metric.Query
		q.Filters = append(append([]source.Filter(nil), q.Filters...), source.Filter{Column: ms.KeyColumn, Operator: source.Equals, Values: []string{key}})
		ms.Metric.Query = q
		out[i] = ms
	}
	return out
}
