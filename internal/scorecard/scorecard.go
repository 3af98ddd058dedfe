package scorecard

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// Member is one metric of a scorecard.
type Member struct {
	// Name identifies the member within its scorecard.
	Name string
	// Weight is the member's share of an account's score, relative to the
	// other members present for that account.
	Weight float64
	// Scale normalises the member's values to scores.
	Scale Scale
	// Personas weigh the member's readings per persona (executive 3,
	// admin 2, end user 1): an account's value is the weighted mean of its
	// personas' values, each persona's from its own answers, so the group
	// that answers most does not drown the others. Nil when the member is
	// read per key only.
	Personas map[string]float64
	// OtherPersonas is the weight of a persona Personas does not list; 0
	// leaves such answers out.
	OtherPersonas float64
}

// Reading is a member's estimate for one key, or for one key and persona
// when the member weighs personas. Lower and Upper bound the value's
// interval at the scorecard's confidence.
type Reading struct {
	Key     string
	Persona string
	Value   float64
	Lower   float64
	Upper   float64
	Samples int64
}

// Input is everything a scorecard is computed from.
type Input struct {
	Members []Member
	// Readings holds, for each member in Members' order, its readings
	// with enough samples; a key without one is missing for that member.
	Readings [][]Reading
	// Values are the keys' worth (annual revenue, say): the index weighs
	// accounts by it and the accounts at risk are ranked by it. Nil
	// weighs every account alike.
	Values map[string]float64
	// Target is the objective on the 0–100 score: an account scoring
	// below it is at risk.
	Target float64
	// Confidence of every interval, such as 0.95.
	Confidence float64
	// MinCoverage is the least share of the members' weight an account's
	// data must cover for it to be judged against the target: one member
	// from a handful of tickets does not make an account at risk.
	MinCoverage float64
}

// MemberScore is one member's part of an account's score.
type MemberScore struct {
	Name string
	// Missing is true when the member has no data for the account: it is
	// left out of the account's score, never counted as 0.
	Missing bool
	// Value is the member's value for the account (persona-weighted), in
	// the member's own unit.
	Value float64
	// Score is Value normalised to 0–100, with its interval.
	Score, Lower, Upper float64
	// StdErr is Score's standard error before the interval is clipped to
	// 0–100: Value's, scaled by the member's scale.
	StdErr float64
	// Samples behind Value, over its personas.
	Samples int64
}

// Account is one key's score.
type Account struct {
	Key string
	// Score is the weighted mean of the members present, with its interval.
	Score, Lower, Upper float64
	// StdErr is Score's standard error by the delta method, before the
	// interval is clipped to 0–100.
	StdErr float64
	// Samples sums the members' samples.
	Samples int64
	// Coverage is the share of the members' weight with data, in (0, 1].
	Coverage float64
	// Members in Input.Members' order, the missing ones included.
	Members []MemberScore
	// Value is the account's worth; HasValue false when Input.Values has
	// none for it.
	Value    float64
	HasValue bool
	// PulledDownBy names the member whose shortfall from 100, weighted,
	// costs the account most; empty at a perfect score.
	PulledDownBy string
	// AtRisk is true when Score is below the target and the account's
	// coverage reaches Input.MinCoverage.
	AtRisk bool
	// unjudged: the coverage is below Input.MinCoverage.
	unjudged bool
}

// Result is a scorecard computed.
type Result struct {
	// Accounts lists every key with at least one member present, by key.
	Accounts []Account
	// Index is the accounts' scores averaged with their values as weights
	// (alike without Values), with its interval; NaN without accounts.
	Index, IndexLower, IndexUpper float64
	// Unvalued counts accounts left out of a value-weighted index because
	// Values has none for them.
	Unvalued int
	// Quantiles of the account scores: the 10th, 25th, 50th, 75th and 90th
	// percentiles, unweighted.
	Quantiles [5]float64
	// AtRisk lists the accounts below the target, highest value first
	// (accounts without a value last), then lowest score.
	AtRisk []Account
	// ValueAtRisk sums the values of the accounts at risk.
	ValueAtRisk float64
	// Unjudged counts accounts whose coverage is below MinCoverage: scored,
	// but not judged against the target.
	Unjudged int
}

// QuantileLevels are the levels of Result.Quantiles.
var QuantileLevels = [5]float64{0.10, 0.25, 0.50, 0.75, 0.90}

// ErrInvalid reports an input that cannot be scored.
var ErrInvalid = errors.New("invalid scorecard")

// Compute scores every key of the readings.
func Compute(in Input) (Result, error) {
	if err := in.validate(); err != nil {
		return Result{}, err
	}
	z := distuv.UnitNormal.Quantile(0.5 + in.Confidence/2)
	perMember := make([]map[string]MemberScore, len(in.Members))
	keys := map[string]bool{}
	for i, m := range in.Members {
		perMember[i] = memberScores(m, in.Readings[i], z)
		for k := range perMember[i] {
			keys[k] = true
		}
	}
	var res Result
	for _, key := range sortedKeys(keys) {
		a := account(key, in.Members, perMember, z)
		a.Value, a.HasValue = in.Values[key]
		if a.Coverage < in.MinCoverage*(1-1e-12) {
			res.Unjudged++
			a.unjudged = true
		} else {
			a.AtRisk = a.Score < in.Target
		}
		res.Accounts = append(res.Accounts, a)
	}
	res.index(in.Values != nil, z)
	res.rank()
	return res, nil
}

func (in Input) validate() error {
	if !(in.MinCoverage >= 0 && in.MinCoverage <= 1) {
		return fmt.Errorf("%w: minimum coverage %v is not within 0 and 1", ErrInvalid, in.MinCoverage)
	}
	if !(in.Confidence > 0 && in.Confidence < 1) {
		return fmt.Errorf("%w: confidence %v is not strictly between 0 and 1", ErrInvalid, in.Confidence)
	}
	if len(in.Readings) != len(in.Members) {
		return fmt.Errorf("%w: %d members but readings for %d", ErrInvalid, len(in.Members), len(in.Readings))
	}
	for _, m := range in.Members {
		if !(m.Weight > 0) || math.IsInf(m.Weight, 0) {
			return fmt.Errorf("%w: member %s has weight %v; weights must be positive", ErrInvalid, m.Name, m.Weight)
		}
		if !m.Scale.Valid() {
			return fmt.Errorf("%w: member %s scores between %v and %v; floor and target must be finite and differ",
				ErrInvalid, m.Name, m.Scale.Floor, m.Scale.Target)
		}
	}
	return nil
}

// memberScores reduces one member's readings to one score per key.
func memberScores(m Member, readings []Reading, z float64) map[string]MemberScore {
	type acc struct {
		w, wv, wse2 float64
		n           int64
	}
	sums := map[string]*acc{}
	for _, r := range readings {
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			continue
		}
		w := 1.0
		if m.Personas != nil {
			var ok bool
			if w, ok = m.Personas[r.Persona]; !ok {
				w = m.OtherPersonas
			}
		}
		if !(w > 0) {
			continue
		}
		a := sums[r.Key]
		if a == nil {
			a = &acc{}
			sums[r.Key] = a
		}
		se := halfWidth(r) / z
		a.w += w
		a.wv += w * r.Value
		a.wse2 += w * w * se * se
		a.n += r.Samples
	}
	out := make(map[string]MemberScore, len(sums))
	for k, a := range sums {
		v := a.wv / a.w
		se := math.Sqrt(a.wse2) / a.w
		lo, hi := m.Scale.Interval(v-z*se, v+z*se)
		out[k] = MemberScore{Name: m.Name, Value: v, Score: m.Scale.Score(v), Lower: lo, Upper: hi,
			StdErr: se * 100 / math.Abs(m.Scale.Target-m.Scale.Floor), Samples: a.n}
	}
	return out
}

// halfWidth is half a reading's interval, its larger side when the
// interval is not symmetric.
func halfWidth(r Reading) float64 {
	h := math.Max(r.Upper-r.Value, r.Value-r.Lower)
	if math.IsNaN(h) || h < 0 {
		return 0
	}
	return h
}

// account combines one key's member scores.
func account(key string, members []Member, perMember []map[string]MemberScore, z float64) Account {
	a := Account{Key: key, Members: make([]MemberScore, len(members))}
	var total, present, ws, wse2, worst float64
	for i, m := range members {
		total += m.Weight
		ms, ok := perMember[i][key]
		if !ok {
			a.Members[i] = MemberScore{Name: m.Name, Missing: true}
			continue
		}
		a.Members[i] = ms
		present += m.Weight
		ws += m.Weight * ms.Score
		wse2 += m.Weight * m.Weight * ms.StdErr * ms.StdErr
		a.Samples += ms.Samples
		if cost := m.Weight * (100 - ms.Score); cost > worst {
			worst, a.PulledDownBy = cost, m.Name
		}
	}
	a.Coverage = present / total
	a.Score = ws / present
	a.StdErr = math.Sqrt(wse2) / present
	a.Lower, a.Upper = clamp(a.Score-z*a.StdErr), clamp(a.Score+z*a.StdErr)
	return a
}

// index averages the accounts' scores, by value when valued.
func (res *Result) index(valued bool, z float64) {
	res.Index, res.IndexLower, res.IndexUpper = math.NaN(), math.NaN(), math.NaN()
	var w, ws, wse2 float64
	scores := make([]float64, 0, len(res.Accounts))
	for _, a := range res.Accounts {
		scores = append(scores, a.Score)
		aw := 1.0
		if valued {
			if !a.HasValue || !(a.Value > 0) {
				res.Unvalued++
				continue
			}
			aw = a.Value
		}
		w += aw
		ws += aw * a.Score
		wse2 += aw * aw * a.StdErr * a.StdErr
	}
	for i, p := range QuantileLevels {
		res.Quantiles[i] = quantile(scores, p)
	}
	if w > 0 {
		res.Index = ws / w
		se := math.Sqrt(wse2) / w
		res.IndexLower, res.IndexUpper = clamp(res.Index-z*se), clamp(res.Index+z*se)
	}
}

// rank lists the accounts at risk, most valuable first.
func (res *Result) rank() {
	for _, a := range res.Accounts {
		if a.AtRisk {
			res.AtRisk = append(res.AtRisk, a)
			if a.HasValue {
				res.ValueAtRisk += a.Value
			}
		}
	}
	slices.SortStableFunc(res.AtRisk, func(x, y Account) int {
		if x.HasValue != y.HasValue {
			if x.HasValue {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(y.Value, x.Value), cmp.Compare(x.Score, y.Score), cmp.Compare(x.Key, y.Key))
	})
}

// quantile is the p-quantile of xs, interpolated between order statistics
// (Hyndman and Fan's type 7); NaN for no values.
func quantile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	h := p * float64(len(s)-1)
	lo := int(math.Floor(h))
	if lo+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}

func clamp(x float64) float64 { return math.Min(100, math.Max(0, x)) }

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
