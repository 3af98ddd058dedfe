package main

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// planted is one segment a drop was planted in.
type planted struct {
	metric  client.ObjectKey
	segment string
}

// plantedSegments are the drop's segment of m0000 first, then those of
// the wide Metric's drop.
func plantedSegments(cp *cluster, c scaleConfig) []planted {
	var out []planted
	for _, k := range cp.metrics {
		if k.Name == dropMetric {
			out = append(out, planted{metric: k, segment: accountSegment(dropAccount)})
		}
	}
	for a := 0; a < min(wideDropped, c.wide); a++ {
		out = append(out, planted{metric: client.ObjectKey{Namespace: wideNamespace, Name: "wide"}, segment: accountSegment(wideAccount(a))})
	}
	return out
}

// detectDrop advances one interval at a time from the drop's first day
// until every planted segment has its task, or dropDays have passed, and
// returns, per planted segment, the end of the interval whose evaluation
// opened its task in the manager (read from the task: its due date is
// dueAfter after the manager's clock when it planned it).
func detectDrop(ctx context.Context, cp *cluster, m *manager, from time.Time, total int, segs []planted) (map[planted]time.Time, error) {
	opened := map[planted]time.Time{}
	want := map[planted]bool{}
	for _, p := range segs {
		want[p] = true
	}
	dueAfter := map[client.ObjectKey]time.Duration{}
	for _, p := range segs {
		if _, ok := dueAfter[p.metric]; ok {
			continue
		}
		var mm cxv1.Metric
		if err := cp.c.Get(ctx, p.metric, &mm); err != nil {
			return nil, err
		}
		spec, err := metricspec.Translate(&mm)
		if err != nil {
			return nil, err
		}
		dueAfter[p.metric] = spec.DueAfter
	}
	for day := 1; day <= dropDays && len(opened) < len(segs); day++ {
		ph, err := evaluateAt(ctx, cp, func() []*manager { return []*manager{m} }, from.AddDate(0, 0, day), total, nil)
		if err != nil {
			return nil, err
		}
		ph.printWide(fmt.Sprintf("drop day %d, the wide Metric's round trips", day))
		var tasks cxv1.ImprovementTaskList
		if err := cp.c.List(ctx, &tasks); err != nil {
			return nil, err
		}
		for _, t := range tasks.Items {
			p := planted{metric: client.ObjectKey{Namespace: t.Namespace, Name: t.Spec.Metric}, segment: t.Spec.Segment}
			if _, done := opened[p]; done || !want[p] {
				continue
			}
			at, ok := openedAt(t, dueAfter[p.metric])
			if !ok {
				return nil, fmt.Errorf("task %s/%s has no due date", t.Namespace, t.Name)
			}
			opened[p] = at
			if p.metric.Name == dropMetric {
				fmt.Printf("drop of %s in %s: task %s opened by the evaluation of the interval ending %s, %d after the drop's first day (seen after %d; %d tasks in all)\n",
					dropMetric, dropAccount, t.Name, at.Format(time.DateOnly), days(at.Sub(from)), day, len(tasks.Items))
			}
		}
	}
	return opened, nil
}

func days(d time.Duration) int { return int(math.Round(d.Hours() / 24)) }

// delays are the days from from to each segment's opening, +Inf for
// those that had none, in the order of segs.
func delays(opened map[planted]time.Time, segs []planted, from time.Time) []float64 {
	out := make([]float64, len(segs))
	for i, p := range segs {
		out[i] = math.Inf(1)
		if at, ok := opened[p]; ok {
			out[i] = at.Sub(from).Hours() / 24
		}
	}
	return out
}

// median of xs (the upper one of an even count), +Inf when most are.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}
