package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
)

// decisions are what the runs are compared on, one line each, led by the
// evaluation (window end) they came with: "day opened task episode",
// "day recovered task", "day ended episode" and, for every evaluation,
// "day held episode reason" for each episode held back after it.
type decisions map[string]bool

func (d decisions) add(at time.Time, what string, args ...any) {
	d[at.UTC().Format("2006-01-02")+" "+what+" "+fmt.Sprint(args...)] = true
}

func episodeKey(segment string, start time.Time) string {
	return fmt.Sprintf("%q@%s", segment, start.UTC().Truncate(time.Second).Format(time.RFC3339))
}

// mustExercise fails unless the history holds what the comparison is
// about: two episodes held back, one of which opens later once a task
// recovered, and two episodes ending.
func (d decisions) mustExercise(t *testing.T) {
	t.Helper()
	count := map[string]int{}
	held, heldThenOpened := map[string]bool{}, false
	for l := range d {
		f := strings.Fields(l)
		count[f[1]]++
		if f[1] == "held" {
			held[f[2]] = true
		}
	}
	for l := range d {
		if f := strings.Fields(l); f[1] == "opened" && held[f[3]] {
			heldThenOpened = true
		}
	}
	if len(held) < 2 || !heldThenOpened || count["recovered"] < 1 || count["ended"] < 2 {
		t.Fatalf("the history does not exercise holding back, recovery and episodes ending: %v", d)
	}
}

// decisionsOf reads the backtest's events. The replay reports a hold-back
// when it starts (or its reason changes); an episode stays held back until
// its task opens or the episode ends.
func decisionsOf(t *testing.T, events []engine.ReplayEvent, last time.Time) decisions {
	t.Helper()
	d := decisions{}
	byDay := map[time.Time][]engine.ReplayEvent{}
	for _, e := range events {
		byDay[e.At.UTC()] = append(byDay[e.At.UTC()], e)
	}
	held := map[string]string{}
	for at := eqT0; !at.After(last); at = at.Add(24 * time.Hour) {
		for _, e := range byDay[at] {
			ep := episodeKey(e.Segment, e.EpisodeStart)
			switch e.Event {
			case engine.EventTaskOpened:
				d.add(at, "opened", e.Task, " ", ep)
				delete(held, ep)
			case engine.EventHeldBack:
				held[ep] = e.Reason
			case engine.EventEpisodeEnded:
				d.add(at, "ended", ep)
				delete(held, ep)
			case string(cxv1.PhaseRecovered):
				d.add(at, "recovered", e.Task)
			default:
				t.Errorf("unexpected event without owners acting: %+v", e)
			}
		}
		for ep, reason := range held {
			d.add(at, "held", ep, " ", reason)
		}
	}
	return d
}
