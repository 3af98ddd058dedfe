package scorecard

import (
	"context"
	"time"

	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/engine"
)

// The events of a replay, named as a Metric's replay names them.
const (
	EventTaskOpened   = engine.EventTaskOpened
	EventEpisodeEnded = "EpisodeEnded"
	EventResolved     = engine.EventResolved
	EventVerified     = "Verified"
	EventReopened     = "Reopened"
	EventEscalated    = "Escalated"
)

// ReplayEvent is one decision a replay took on an account.
type ReplayEvent struct {
	Account string    `json:"account"`
	Event   string    `json:"event"`
	At      time.Time `json:"at"`
	// EpisodeStart is the start of the account's episode.
	EpisodeStart time.Time `json:"episodeStart"`
	// Score is the breaching window's score, or the fresh score a
	// verification decided on.
	Score   *float64 `json:"score,omitempty"`
	Attempt int32    `json:"attempt,omitempty"`
}

// ReplayOptions shape a scorecard replay.
type ReplayOptions struct {
	// Interval is how often the operator scores (each closed window is
	// judged at the first scoring after it closes) and looks at a
	// resolved task's fresh data.
	Interval time.Duration
	// ResolveAfter, when positive, plays the owner: each task is resolved
	// this long after it opens or reopens, and the fix is verified on the
	// data that follows over VerifyWindow, up to MaxAttempts attempts,
	// each on at least MinFreshSamples fresh samples.
	ResolveAfter, VerifyWindow time.Duration
	MaxAttempts                int32
	MinFreshSamples            int64
}

// Replay judges every window that closes in (from, to] as the operator
// does, the first after calibrating on the windows before it, and reports
// each task it would open (one per new episode) and each episode's end;
// with ResolveAfter it plays the owners and reports how each resolution
// would have been verified. A task opens for every episode here: the
// cluster's capacity and the members' open tasks, which hold some back,
// are not part of a replay.
func (p Policy) Replay(ctx context.Context, members []MemberSource, in Input, from, to time.Time, o ReplayOptions) ([]ReplayEvent, error) {
	var det Detector
	var out []ReplayEvent
	step := o.Interval
	if step <= 0 {
		step = 24 * time.Hour
	}
	for now := from; !now.After(to); now = now.Add(step) {
		if start, _ := p.Closed(now); start.Before(from.Add(-p.Window)) {
			continue
		}
		next, judged, err := p.Decide(ctx, members, in, det, now)
		if err != nil {
			return out, err
		}
		if !judged {
			continue
		}
		for _, e := range det.Episodes {
			if cur, ok := next.Episode(e.Account); !ok || !cur.Start.Equal(e.Start) {
				out = append(out, ReplayEvent{Account: e.Account, Event: EventEpisodeEnded, At: now, EpisodeStart: e.Start})
			}
		}
		for _, e := range next.Episodes {
			if old, ok := det.Episode(e.Account); ok && old.Start.Equal(e.Start) {
				continue
			}
			score := e.Score
			out = append(out, ReplayEvent{Account: e.Account, Event: EventTaskOpened, At: now, EpisodeStart: e.Start, Score: &score, Attempt: 1})
			if o.ResolveAfter > 0 {
				evs, err := p.playOwner(ctx, members, in, e, next.Spread(p.Shift), now, to, o)
				if err != nil {
					return out, err
				}
				out = append(out, evs...)
			}
		}
		det = next
	}
	return out, nil
}

// playOwner resolves a task ResolveAfter after it opens or reopens and
// verifies each resolution on the account's fresh scores, looking every
// interval until a verdict, the verify window's end or to.
func (p Policy) playOwner(ctx context.Context, members []MemberSource, in Input, ep Episode, spread float64,
	opened, to time.Time, o ReplayOptions) ([]ReplayEvent, error) {
	var out []ReplayEvent
	step := o.Interval
	if step <= 0 {
		step = 24 * time.Hour
	}
	resolved := opened.Add(o.ResolveAfter)
	for attempt := int32(1); attempt <= max(1, o.MaxAttempts); attempt++ {
		if resolved.After(to) {
			return out, nil
		}
		out = append(out, ReplayEvent{Account: ep.Account, Event: EventResolved, At: resolved, EpisodeStart: ep.Start, Attempt: attempt})
		deadline := resolved.Add(o.VerifyWindow)
		now := resolved
		for {
			now = now.Add(step)
			if now.After(to) {
				return out, nil
			}
			end := engine.Align(now, step, p.Location)
			fresh, err := ScoreBetween(ctx, members, in, resolved, end)
			if err != nil {
				return out, err
			}
			final := !end.Before(deadline)
			v := p.Verify(ep, fresh, spread, Look{Attempt: attempt, Deadline: true, Final: final, Span: end.Sub(resolved),
				Planned: o.VerifyWindow, MinSamples: o.MinFreshSamples})
			score := v.Mean
			switch {
			case v.Verdict == detect.Proven:
				return append(out, ReplayEvent{Account: ep.Account, Event: EventVerified, At: now, EpisodeStart: ep.Start,
					Score: &score, Attempt: attempt}), nil
			case v.Verdict == detect.Persists || v.Verdict == detect.NotProven || final:
				event := EventReopened
				if attempt >= max(1, o.MaxAttempts) {
					event = EventEscalated
				}
				out = append(out, ReplayEvent{Account: ep.Account, Event: event, At: now, EpisodeStart: ep.Start, Score: &score,
					Attempt: attempt + 1})
			default:
				continue
			}
			break
		}
		resolved = now.Add(o.ResolveAfter)
	}
	return out, nil
}
