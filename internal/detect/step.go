package detect

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// Batch is one interval of new data: contributions per segment key, the
// whole population under "".
type Batch struct {
	From, To time.Time
	Segments map[string]measure.Contribution
}

// Opened is an episode that opened with a batch.
type Opened struct {
	Segment string       `json:"segment"`
	Start   time.Time    `json:"start"`
	State   SegmentState `json:"state"`
}

// Feed steps every segment of the batch once and returns the new state
// (segments without evidence removed) and the episodes that opened, sorted
// by segment. Segments without data in the batch keep their state.
func (c Config) Feed(st State, b Batch) (State, []Opened) {
	next := make(State, len(st))
	for k, v := range st {
		next[k] = v
	}
	keys := make([]string, 0, len(b.Segments))
	for k := range b.Segments {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var opened []Opened
	for _, seg := range keys {
		s, isNew := c.Step(next[seg], b.Segments[seg], b.From, b.To)
		if s.Zero() {
			delete(next, seg)
		} else {
			next[seg] = s
		}
		if isNew {
			opened = append(opened, Opened{Segment: seg, Start: s.EpisodeStart, State: s})
		}
	}
	return next, opened
}

// Setup is what a metric's detector is made from.
type Setup struct {
	Direction Direction
	Reference float64
	// Shift is δ; zero takes the formula's default.
	Shift   float64
	Formula string
	// Budget is false tasks per month for the whole metric; zero takes
	// DefaultBudget.
	Budget float64
	// Window holds the contributions of the latest window: the whole
	// population under "" and each segment under its key.
	Window map[string]measure.Contribution
	// WindowLength is the window's duration.
	WindowLength time.Duration
	// Interval is the time between evaluations: each feeds one batch.
	Interval time.Duration
	// BaselineUnits is the effective size of a relative objective's frozen
	// baseline (zero for a fixed target): its uncertainty raises the
	// threshold (CalibrateWithBaseline).
	BaselineUnits float64
	// Calibration is the metric's measured dispersion; nil treats units as
	// independent.
	Calibration *Calibration
	// MinSamples is the fewest units since the statistic left zero that
	// may open an episode (the objective's minSamples).
	MinSamples float64
	// Null is the distribution of one unit's contribution the data shows
	// (NullOf the window's statistics, whose mix at the reference is
	// taken as the one the window's mix tilts to); nil prices the
	// in-control run length with the normal approximation. Configure uses
	// its shape (NewUnitLaw), not its scale, which stays σ.
	Null []Atom
}

// Configure estimates σ (pooled over the calibration's history when there
// is one; else over the window's whole population; TargetSigma when that
// has fewer than two effective units), each segment's effective units per
// interval under the calibration's dispersion, and calibrates the
// threshold so that the segments together (the whole population counted
// as one) open at most the budget's false tasks, each with its own batch
// size (CalibrateSegments). It returns the effective units per month.
func Configure(s Setup) (Config, float64, error) {
	if s.Shift <= 0 {
		s.Shift = DefaultShift(s.Formula, s.Reference)
	}
	if s.Budget <= 0 {
		s.Budget = DefaultBudget
	}
	overall := s.Window[""]
	sigma := math.Sqrt(overall.Variance())
	if overall.Units.EffectiveN() < 2 {
		// No history to estimate from: the formula's variance at the target.
		if ts, err := TargetSigma(s.Formula, s.Reference); err == nil {
			sigma = ts
		}
	}
	dispersion := 0.0
	if cal := s.Calibration; cal != nil {
		if cal.Sigma > 0 {
			sigma = cal.Sigma
		}
		dispersion = cal.Dispersion
	}
	if floor := s.Shift / 4; !(sigma > floor) {
		sigma = floor
	}
	days := s.WindowLength.Hours() / 24
	if days <= 0 {
		return Config{}, 0, fmt.Errorf("detector: window %s", s.WindowLength)
	}
	intervals := 1.0
	if s.Interval > 0 {
		intervals = math.Max(1, s.WindowLength.Hours()/s.Interval.Hours())
	}
	perMonthIntervals := intervals / days * 30
	law := NewUnitLaw(s.Null, s.Reference, s.Direction)
	keys := make([]KeyVolume, 0, len(s.Window))
	var perMonth float64
	for _, c := range s.Window {
		n := c.Units.EffectiveN()
		if !(n > 0) {
			continue
		}
		kv := KeyVolume{PerMonth: n / days * 30, Batch: 1, Units: 1, Law: law}
		if s.Interval > 0 {
			// Checked once per interval, on the interval's effective units.
			batch := Effective(n/intervals, sigma, dispersion)
			kv = KeyVolume{PerMonth: batch * perMonthIntervals, Batch: batch, Units: n / intervals, Law: law,
				Variance: s.Calibration.varianceRatios(n/intervals, sigma)}
		}
		keys = append(keys, kv)
		perMonth += kv.PerMonth
	}
	c := Config{Direction: s.Direction, Reference: s.Reference, Shift: s.Shift, Sigma: sigma, Dispersion: dispersion,
		MinSamples: s.MinSamples}
	h, err := CalibrateSegments(c.K(), s.Budget, keys, s.BaselineUnits)
	if err != nil {
		return c, perMonth, err
	}
	c.Threshold = h
	return c, perMonth, c.Validate()
}

// KeyVolume is one segment's share of the false-task budget: its
// effective units a month and per batch.
type KeyVolume struct {
	PerMonth, Batch float64
	// Variance holds, per node of the dispersion's error (hermiteNodes),
	// how many times the true variance of an interval's mean exceeds the
	// one the detector assumes; nil when the dispersion is known.
	Variance []float64
	// Units are the units per batch before the dispersion's discount
	// (Batch is their effective count); Law is one unit's in-control
	// distribution. With a Law the run length is priced with the batch's
	// Cramér exponent (cramerWalk); without, with the normal
	// approximation.
	Units float64
	Law   *UnitLaw
}

// CalibrateSegments is the threshold for which segments with these
// volumes, each sitting at its reference, open budget false tasks a month
// together: Σ PerMonth/ARL0(h, Batch), each with its own batch size, so a
// small segment's batches are not priced as the average's. A relative
// objective's baseline of baselineUnits units averages the rate over the
// baseline's error (CalibrateWithBaseline); an estimated dispersion
// averages it over the dispersion's error: where the true variance is r
// times the assumed one, the statistic in its own standard units is a
// CUSUM with reference k/√r and threshold h/√r. A key with a Law is
// priced at every node with its batch's Cramér exponent (skewedWalks).
func CalibrateSegments(k, budget float64, keys []KeyVolume, baselineUnits float64) (float64, error) {
	var total float64
	for _, kv := range keys {
		total += kv.PerMonth
	}
	if !(total > 0) {
		return 0, ErrNoVolume
	}
	if !(k > 0) || !(budget > 0) {
		return 0, fmt.Errorf("calibrate: reference %v and budget %v must be positive", k, budget)
	}
	sd := 0.0
	if baselineUnits > 0 && !math.IsInf(baselineUnits, 1) {
		sd = 1 / math.Sqrt(baselineUnits)
	}
	walks := skewedWalks(k, keys, sd)
	rate := func(h float64) float64 {
		var r float64
		for _, w := range walks {
			r += w.weight / w.arl0(h)
		}
		for _, kv := range keys {
			switch {
			case kv.Law != nil:
				// Priced by walks.
			case kv.Variance != nil:
				for i, ratio := range kv.Variance {
					s := math.Sqrt(ratio)
					if sd == 0 {
						r += hermiteWeights[i] * kv.PerMonth / arl0Any(k/s, h/s, kv.Batch)
						continue
					}
					for j, z := range hermiteNodes {
						r += hermiteWeights[i] * hermiteWeights[j] * kv.PerMonth / arl0Any((k+z*sd)/s, h/s, kv.Batch)
					}
				}
			case sd == 0:
				r += kv.PerMonth / ARL0Batched(k, h, kv.Batch)
			default:
				for i, z := range hermiteNodes {
					r += hermiteWeights[i] * kv.PerMonth / arl0Any(k+z*sd, h, kv.Batch)
				}
			}
		}
		return r
	}
	want := budget * calibrationMargin
	lo, hi := 0.0, 1.0
	for rate(hi) > want {
		hi *= 2
		if hi > 1e9 {
			return 0, fmt.Errorf("calibrate: no threshold meets %g false tasks a month", want)
		}
	}
	for i := 0; i < 100 && hi-lo > 1e-9*hi; i++ {
		mid := (lo + hi) / 2
		if rate(mid) > want {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}

// weightedWalk is one node's walk and its weight in false tasks a month:
// the node's probability times the key's units a month.
type weightedWalk struct {
	walk
	weight float64
}

// skewedWalks are the walks of the keys with a Law, one per node of the
// dispersion's error (kv.Variance) and of a baseline's error (sd, zero
// for a fixed reference), each with its Cramér exponent solved once: it
// does not depend on the threshold. Keys whose walk at a node is the same
// share one walk, weighted by their sum.
func skewedWalks(k float64, keys []KeyVolume, sd float64) []weightedWalk {
	var out []weightedWalk
	// Segments of equal volume share their nodes' exponents.
	type walkNode struct {
		law                  *UnitLaw
		units, ne, ratio, mu float64
	}
	solved := map[walkNode]walk{}
	// Equal walks are one walk of their summed weight: a rate is linear
	// in the weights, and 10,000 accounts of a few volumes are then a few
	// walks, not 10,000 per node.
	index := map[walk]int{}
	for _, kv := range keys {
		if kv.Law == nil {
			continue
		}
		ratios, rw := kv.Variance, hermiteWeights[:]
		if ratios == nil {
			ratios, rw = []float64{1}, []float64{1}
		}
		drifts, dw := []float64{k}, []float64{1}
		if sd > 0 {
			drifts, dw = make([]float64, len(hermiteNodes)), hermiteWeights[:]
			for j, z := range hermiteNodes {
				drifts[j] = k + z*sd
			}
		}
		for i, ratio := range ratios {
			for j, mu := range drifts {
				node := walkNode{kv.Law, kv.Units, kv.Batch, ratio, mu}
				w, ok := solved[node]
				if !ok {
					w = kv.Law.cramerWalk(kv.Units, kv.Batch, ratio, mu)
					solved[node] = w
				}
				weight := rw[i] * dw[j] * kv.PerMonth
				if at, ok := index[w]; ok {
					out[at].weight += weight
					continue
				}
				index[w] = len(out)
				out = append(out, weightedWalk{walk: w, weight: weight})
			}
		}
	}
	return out
}
