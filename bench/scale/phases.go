package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// phase is one measured step, summed over the managers running it.
type phase struct {
	took      time.Duration
	queries   float64
	writes    float64
	reconcile reconcileTimes
	shards    []sample // what each manager did in the phase
	// wide are the wide Metric's round trips by kind and outcome.
	wide map[string]float64
}

// evaluateAt moves the clock to now (begin may then start managers) and
// waits until every Metric has been evaluated at now by its manager's own
// requeue, as in production: nothing but the clock asks for it, so a
// phase's writes are the managers' alone.
func evaluateAt(ctx context.Context, cp *cluster, managers func() []*manager, now time.Time, total int, begin func() error) (phase, error) {
	before := map[*manager]sample{}
	for _, m := range managers() {
		s, err := m.sample()
		if err != nil {
			return phase{}, err
		}
		before[m] = s
	}
	start := time.Now()
	if err := cp.setClock(now); err != nil {
		return phase{}, err
	}
	if begin != nil {
		if err := begin(); err != nil {
			return phase{}, err
		}
	}
	want := float64(now.Unix())
	// A scrape gathers every series of the manager (65,000 at 2,000
	// Metrics) and is garbage the moment it is sent: once a second, 30
	// times as often as the ServiceMonitor's scrape, times a phase to the
	// second without keeping a scrape in flight all the time.
	for deadline := time.Now().Add(2 * time.Hour); ; time.Sleep(time.Second) {
		var p phase
		done := 0
		for _, m := range managers() {
			s, err := m.sample()
			if err != nil {
				return phase{}, err
			}
			for _, at := range s.evaluated {
				if at == want {
					done++
				}
			}
			b := before[m]
			shard := sample{queries: s.queries - b.queries, writes: s.writes - b.writes, namespaces: map[string]float64{},
				reconcile: s.reconcile.minus(b.reconcile)}
			for ns, q := range s.namespaces {
				if d := q - b.namespaces[ns]; d > 0 {
					shard.namespaces[ns] = d
				}
			}
			p.queries += shard.queries
			p.writes += shard.writes
			p.reconcile = p.reconcile.plus(shard.reconcile)
			p.shards = append(p.shards, shard)
		}
		if done >= total {
			p.took = time.Since(start)
			// Writes that follow the evaluation (events, tasks) land within
			// a moment; count them with the phase.
			time.Sleep(time.Second)
			return settle(p, managers(), before)
		}
		if time.Now().After(deadline) {
			return phase{}, fmt.Errorf("only %d of %d Metrics evaluated at %s", done, total, now.Format(time.RFC3339))
		}
	}
}

// settle recounts the phase's queries and writes after the last moment.
func settle(p phase, managers []*manager, before map[*manager]sample) (phase, error) {
	p.queries, p.writes = 0, 0
	for i, m := range managers {
		s, err := m.sample()
		if err != nil {
			return phase{}, err
		}
		b := before[m]
		p.shards[i].queries, p.shards[i].writes = s.queries-b.queries, s.writes-b.writes
		p.queries += p.shards[i].queries
		p.writes += p.shards[i].writes
		for kind, n := range s.byKind[wideNamespace] {
			if d := n - b.byKind[wideNamespace][kind]; d > 0 {
				if p.wide == nil {
					p.wide = map[string]float64{}
				}
				p.wide[kind] += d
			}
		}
	}
	return p, nil
}

func (p phase) print(name string, metrics int, groupBy time.Duration) {
	q := p.reconcile.quantile
	fmt.Printf("%s: every Metric evaluated in %s (%.0f× one GROUP BY), %.2f source round trips per Metric, %.0f API writes (%.2f per Metric), reconcile p50 %s p99 %s\n",
		name, p.took.Round(time.Millisecond), float64(p.took)/float64(groupBy), p.queries/float64(metrics), p.writes,
		p.writes/float64(metrics), q(0.5).Round(time.Microsecond), q(0.99).Round(time.Microsecond))
	p.printWide("  the wide Metric's round trips")
}

// printWide prints the wide Metric's round trips by kind and outcome,
// after what.
func (p phase) printWide(what string) {
	if len(p.wide) == 0 {
		return
	}
	var kinds []string
	for kind, n := range p.wide {
		kinds = append(kinds, fmt.Sprintf("%s %.0f", kind, n))
	}
	sort.Strings(kinds)
	fmt.Printf("%s: %s\n", what, strings.Join(kinds, ", "))
}
