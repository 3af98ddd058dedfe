package detect

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"testing/quick"
	"time"
)

// Every field of a segment's state survives JSON, the form it is persisted
// in (Metric status), and the state a detector reaches from it is the same.
func TestFullStateRoundTripsThroughJSON(t *testing.T) {
	c := Config{Direction: AtMost, Reference: 10, Shift: 5, Sigma: 30, Threshold: 6}
	f := func(stat, rec, samples float64, since, recSince int64, open bool, mean float64) bool {
		at := func(s int64) time.Time { return time.Unix(s%4e9, s%1e9).UTC() }
		s := SegmentState{Statistic: math.Mod(math.Abs(stat), 6), Since: at(since), Samples: math.Abs(samples),
			Recovery: math.Abs(rec), RecoverySince: at(recSince)}
		if open {
			s.EpisodeStart = s.Since
		}
		raw, err := json.Marshal(State{"stage=setup": s})
		if err != nil {
			return false
		}
		var back State
		if json.Unmarshal(raw, &back) != nil || !reflect.DeepEqual(back["stage=setup"], s) {
			return false
		}
		b := batch(50, math.Mod(math.Abs(mean), 40), 30)
		a1, o1 := c.Step(s, b, day0, day0.Add(time.Hour))
		a2, o2 := c.Step(back["stage=setup"], b, day0, day0.Add(time.Hour))
		return o1 == o2 && reflect.DeepEqual(a1, a2)
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 500}); err != nil {
		t.Fatal(err)
	}
}
