package detect

import (
	"fmt"
	"sort"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// Bounds returns the end of the latest evaluation that may run at now: the
// last multiple of interval (counted from the Unix epoch) at or before
// now − settle, where settle is late-arriving data's grace. Ends are always
// aligned, so a live run and a replay over the same history cut the same
// batches. A non-positive interval returns now − settle.
func Bounds(now time.Time, interval, settle time.Duration) time.Time {
	end := now.Add(-settle)
	if interval > 0 {
		end = time.Unix(0, 0).UTC().Add(time.Duration(end.UnixNano()/int64(interval)) * interval)
	}
	return end
}

// SegmentVerdict is one segment's standing after an evaluation.
type SegmentVerdict struct {
	// Segment is the segment key ("" for the whole population).
	Segment string `json:"segment"`
	// Statistic and Threshold are the CUSUM and its threshold h, in
	// standard units; the same threshold serves every segment.
	Statistic float64 `json:"statistic"`
	Threshold float64 `json:"threshold"`
	// Open is true while the segment's episode is open.
	Open bool `json:"open"`
	// EpisodeStart is when the open episode's evidence began.
	EpisodeStart time.Time `json:"episodeStart,omitzero"`
	// Samples are the effective units fed this evaluation.
	Samples float64 `json:"samples"`
}

// Evaluation is the result of one evaluation of a metric.
type Evaluation struct {
	// State is the new detector state to persist (segments with evidence).
	State State `json:"state"`
	// Verdicts covers every segment with data or evidence, sorted by key.
	Verdicts []SegmentVerdict `json:"verdicts"`
	// Opened are the episodes that opened with this evaluation: one task
	// each, named from (segment, start).
	Opened []Opened `json:"opened,omitempty"`
}

// Evaluate runs one evaluation: it feeds the statistics of the data new
// since the last evaluation, [from, to), exactly once, and reports the new
// state, each segment's verdict and the new episodes. The Metric
// reconciler calls it once per interval; Replay calls it over history.
func (c Config) Evaluate(st State, from, to time.Time, fresh map[string]measure.Contribution) Evaluation {
	next, opened := c.Feed(st, Batch{From: from, To: to, Segments: fresh})
	keys := map[string]bool{}
	for k := range fresh {
		keys[k] = true
	}
	for k := range next {
		keys[k] = true
	}
	ev := Evaluation{State: next, Opened: opened}
	for k := range keys {
		s := next[k]
		ev.Verdicts = append(ev.Verdicts, SegmentVerdict{Segment: k, Statistic: s.Statistic, Threshold: c.Threshold,
			Open: s.Open(), EpisodeStart: s.EpisodeStart, Samples: fresh[k].Units.EffectiveN()})
	}
	sort.Slice(ev.Verdicts, func(i, j int) bool { return ev.Verdicts[i].Segment < ev.Verdicts[j].Segment })
	return ev
}

// EvaluateStats is Evaluate on the sufficient statistics a source returns
// per segment: each segment's statistics become per-unit contributions
// under the definition (measure.Contributions). A formula without units
// returns measure.ErrNoUnits wrapped: judge it with TumblingBreach.
func (c Config) EvaluateStats(def measure.Definition, st State, from, to time.Time, stats map[string]*measure.Stats) (Evaluation, error) {
	fresh := make(map[string]measure.Contribution, len(stats))
	for seg, s := range stats {
		cont, err := measure.Contributions(def, s)
		if err != nil {
			return Evaluation{}, fmt.Errorf("evaluate segment %q: %w", seg, err)
		}
		fresh[seg] = cont
	}
	return c.Evaluate(st, from, to, fresh), nil
}

// ReplayEvent says what would have happened to a segment at a time.
type ReplayEvent struct {
	Segment string    `json:"segment"`
	At      time.Time `json:"at"`
	// Kind is Opened, Recovered, NotRecovered, Verified or Reopened.
	Kind string `json:"kind"`
	// EpisodeStart names the task the event belongs to.
	EpisodeStart time.Time `json:"episodeStart"`
	// Verification holds the evidence of Recovered and NotRecovered.
	Verification *Verification `json:"verification,omitempty"`
}

// The replay event kinds.
const (
	EventOpened       = "Opened"
	EventRecovered    = "Recovered"
	EventNotRecovered = "NotRecovered"
	EventVerified     = "Verified"
	EventReopened     = "Reopened"
)

// ReplayInput is what a replay runs over.
type ReplayInput struct {
	Config Config
	// State is the detector state at From (nil: no evidence).
	State State
	// From and To bound the replay; evaluations end at interval multiples.
	From, To time.Time
	Interval time.Duration
	// VerifyWindow is how long an opened task's recovery is judged on data
	// newer than its opening before it counts as NotRecovered; zero: 30 days.
	VerifyWindow time.Duration
	// MinFreshSamples is the fewest fresh units that may decide.
	MinFreshSamples float64
	// Level is verification's α; zero: DefaultLevel.
	Level float64
	// Resolutions are, per segment, the times an owner resolved its task
	// (a what-if for the backtest): from the first batch starting at or
	// after one, verification looks at data newer than it only.
	Resolutions map[string][]time.Time
	// Stats returns per-segment statistics of the data in [from, to).
	Stats func(from, to time.Time) (map[string]measure.Contribution, error)
}

// ReplayResult is a replay's timeline and final state.
type ReplayResult struct {
	Events []ReplayEvent `json:"events"`
	State  State         `json:"state"`
}

// Replay drives Evaluate over [From, To) one interval at a time and, for
// every opened episode, judges recovery without action with Verify on the
// data newer than the opening, at each evaluation, with the final look at
// the end of the verify window. Once an owner resolution passes, the same
// test on data newer than the resolution says Verified, or Reopened when
// the drop persists or the window ends unproven; a later resolution starts
// a new attempt.
func Replay(in ReplayInput) (ReplayResult, error) {
	if in.Interval <= 0 {
		return ReplayResult{}, fmt.Errorf("replay: interval %s must be positive", in.Interval)
	}
	if in.VerifyWindow <= 0 {
		in.VerifyWindow = 30 * 24 * time.Hour
	}
	type watch struct {
		start, since time.Time
		resolved     bool
		fresh        measure.Contribution
	}
	watching := map[string]*watch{}
	st := in.State
	var out ReplayResult
	from := Bounds(in.From, in.Interval, 0)
	for to := from.Add(in.Interval); !to.After(in.To); from, to = to, to.Add(in.Interval) {
		fresh, err := in.Stats(from, to)
		if err != nil {
			return out, fmt.Errorf("replay: statistics for [%s, %s): %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
		}
		segs := make([]string, 0, len(watching))
		for seg := range watching {
			segs = append(segs, seg)
		}
		sort.Strings(segs)
		for _, seg := range segs {
			w := watching[seg]
			for _, r := range in.Resolutions[seg] {
				if r.After(w.since) && !r.After(from) {
					// An owner resolution: judge only data newer than it.
					w.since, w.resolved, w.fresh = from, true, measure.Contribution{}
				}
			}
			w.fresh.Merge(fresh[seg])
			v := Verify(VerifyInput{Fresh: w.fresh, Direction: in.Config.Direction, Reference: in.Config.Reference,
				Shift: in.Config.Shift, From: in.Config.Reference - in.Config.Shift, Level: in.Level,
				MinSamples: in.MinFreshSamples, Final: !to.Before(w.since.Add(in.VerifyWindow))})
			kind := ""
			switch {
			case v.Verdict == Proven && w.resolved:
				kind = EventVerified
			case v.Verdict == Proven:
				kind = EventRecovered
			case v.Verdict == Pending:
			case w.resolved:
				kind = EventReopened
			case v.Verdict == NotProven:
				kind = EventNotRecovered
			}
			if kind == "" {
				continue
			}
			out.Events = append(out.Events, ReplayEvent{Segment: seg, At: to, Kind: kind, EpisodeStart: w.start, Verification: &v})
			switch kind {
			case EventReopened, EventNotRecovered:
				// The task stays open, waiting for the next resolution;
				// recovery is judged afresh.
				w.since, w.resolved, w.fresh = to, false, measure.Contribution{}
			default:
				delete(watching, seg)
			}
		}
		ev := in.Config.Evaluate(st, from, to, fresh)
		st = ev.State
		for _, o := range ev.Opened {
			out.Events = append(out.Events, ReplayEvent{Segment: o.Segment, At: to, Kind: EventOpened, EpisodeStart: o.Start})
			watching[o.Segment] = &watch{start: o.Start, since: to}
		}
	}
	out.State = st
	return out, nil
}
