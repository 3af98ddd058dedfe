package simulate

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/loop"
)

// Options shape a measurement. Zero fields take the defaults of
// DefaultOptions.
type Options struct {
	// Months is the metric-months of stable data measured for false tasks.
	Months int
	// ShardMonths is the length of one independent history (its own
	// accounts, baseline and seed) after calibration.
	ShardMonths int
	// Calibration is the days of history at the start of every run that
	// are not counted.
	Calibration int
	// Trials is the drops simulated per drop size.
	Trials int
	// Drops are the step drops detection is measured on, in δ.
	Drops []float64
	// FixDrops are the drops after which a fix that did nothing is
	// played, in δ; a drop of 1 also plays a fix that restored the level.
	FixDrops []float64
	// ResolveAfter is how long after a task opens its owner resolves it.
	ResolveAfter time.Duration
	// Horizon is the days simulated after a drop.
	Horizon int
	// Seed makes a measurement reproducible.
	Seed uint64
}

// DefaultOptions are the full measurement's.
func DefaultOptions() Options {
	return Options{Months: 1000, ShardMonths: 20, Calibration: 180, Trials: 400, Drops: []float64{1, 2},
		FixDrops: []float64{0.5, 0.75, 1}, ResolveAfter: 7 * day, Horizon: 150, Seed: 1}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Months <= 0 {
		o.Months = d.Months
	}
	if o.ShardMonths <= 0 {
		o.ShardMonths = d.ShardMonths
	}
	if o.Calibration <= 0 {
		o.Calibration = d.Calibration
	}
	if o.Trials <= 0 {
		o.Trials = d.Trials
	}
	if o.Drops == nil {
		o.Drops = d.Drops
	}
	if o.FixDrops == nil {
		o.FixDrops = d.FixDrops
	}
	if o.ResolveAfter <= 0 {
		o.ResolveAfter = d.ResolveAfter
	}
	if o.Horizon <= 0 {
		o.Horizon = d.Horizon
	}
	return o
}

// seed derives a job's seed from the options', the case and the job.
func (o Options) seed(c Case, kind string, drop float64, i int) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d\x00%s\x00%s\x00%g\x00%d", o.Seed, c.Name, kind, drop, i)
	return h.Sum64()
}

// run replays days of simulated data through the engine as the operator
// runs it: Evaluate every day with the state carried as status keeps it,
// PlanTasks, and the task reconciler's Verify, owners resolving
// ResolveAfter after a task opens. The first evaluation has a full window
// (and baseline) of data behind it.
func run(c Case, s *Series, resolveAfter time.Duration) ([]engine.ReplayEvent, error) {
	m := c.Metric()
	from := Start.Add(m.Window)
	if m.Objective.Relative != nil {
		from = from.Add(m.BaselineWindow)
	}
	to := Start.Add(time.Duration(s.Days()) * day)
	res, err := engine.Replay(context.Background(), s, m, from, to, engine.ReplayOptions{ResolveAfter: resolveAfter})
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", c.Name, err)
	}
	return res.Events, nil
}

// FalseTasks counts the episodes the operator opens a task for (or holds
// back for capacity) on one history of stable data at the long-run level,
// after the calibration days. It returns the count and the metric-months
// counted.
func FalseTasks(c Case, o Options, shard int) (int, float64, error) {
	o = o.withDefaults()
	days := o.Calibration + 30*o.ShardMonths
	seed := o.seed(c, "stable", 0, shard)
	s := newWorld(c, seed, days).draw(seed, Change{})
	events, err := run(c, s, o.ResolveAfter)
	if err != nil {
		return 0, 0, err
	}
	after := Start.Add(time.Duration(o.Calibration) * day)
	seen := map[string]bool{}
	for _, ev := range events {
		if (ev.Event == engine.EventTaskOpened || ev.Event == engine.EventHeldBack) && !ev.At.Before(after) {
			seen[fmt.Sprintf("%s\x00%d", ev.Segment, ev.EpisodeStart.Unix())] = true
		}
	}
	return len(seen), float64(o.ShardMonths), nil
}

// Trial is what followed one step drop.
type Trial struct {
	// Delay is the days from the drop to the first task opened after it;
	// +Inf when none opened within the horizon.
	Delay float64
	// Outcome is how the first task ended with a fix that did nothing:
	// Verified, Recovered, or empty while it was still open or exhausted
	// its attempts unproven at the horizon.
	Outcome loop.Phase
	// Restored is how the same task ended when the fix restored the level
	// from its first resolution on; empty when not played.
	Restored loop.Phase
	// Masked: the drop came while an episode opened before it (a false
	// task) was still open, so the drop opened no task of its own until
	// that episode ended.
	Masked bool
}

// DropTrial simulates the calibration, a random further 0 to 60 days, a
// step drop of drop·δ and the horizon after it. With restore, it also
// replays the same history with the level restored from the first
// resolution of the drop's first task on.
func DropTrial(c Case, o Options, drop float64, i int, restore bool) (Trial, error) {
	o = o.withDefaults()
	seed := o.seed(c, "drop", drop, i)
	r := rand.New(rand.NewPCG(seed, 7))
	dropDay := o.Calibration + r.IntN(61)
	days := dropDay + o.Horizon
	w := newWorld(c, seed, days)
	ch := Change{Day: dropDay, By: drop * c.Shift}
	events, err := run(c, w.draw(seed, ch), o.ResolveAfter)
	if err != nil {
		return Trial{}, err
	}
	at := Start.Add(time.Duration(dropDay) * day)
	t := Trial{Delay: math.Inf(1), Masked: openAt(events, at)}
	task := ""
	for _, ev := range events {
		if ev.Event == engine.EventTaskOpened && !ev.At.Before(at) {
			task, t.Delay = ev.Task, ev.At.Sub(at).Hours()/24
			break
		}
	}
	if task == "" {
		return t, nil
	}
	t.Outcome = outcome(events, task)
	if !restore {
		return t, nil
	}
	for _, ev := range events {
		if ev.Task == task && ev.Event == engine.EventResolved {
			ch.Restore = int(ev.At.Sub(Start) / day)
			break
		}
	}
	if ch.Restore == 0 {
		return t, nil
	}
	events, err = run(c, w.draw(seed, ch), o.ResolveAfter)
	if err != nil {
		return Trial{}, err
	}
	t.Restored = outcome(events, task)
	return t, nil
}

// openAt reports whether an episode that opened a task before at was
// still open at at.
func openAt(events []engine.ReplayEvent, at time.Time) bool {
	open := map[string]bool{}
	for _, ev := range events {
		if !ev.At.Before(at) {
			break
		}
		key := fmt.Sprintf("%s\x00%d", ev.Segment, ev.EpisodeStart.Unix())
		switch ev.Event {
		case engine.EventTaskOpened:
			open[key] = true
		case engine.EventEpisodeEnded:
			delete(open, key)
		}
	}
	return len(open) > 0
}

// outcome is the final phase a task reached, if it reached one that
// closes it as fixed or recovered.
func outcome(events []engine.ReplayEvent, task string) loop.Phase {
	for _, ev := range events {
		if ev.Task != task {
			continue
		}
		switch loop.Event(ev.Event) {
		case loop.EventVerified:
			return loop.Verified
		case loop.EventRecovered:
			return loop.Recovered
		}
	}
	return ""
}

// Parallel runs n jobs over the machine's cores and returns their
// results in job order, so the outcome does not depend on scheduling.
func Parallel[T any](n int, job func(i int) T) []T {
	out := make([]T, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = job(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}
