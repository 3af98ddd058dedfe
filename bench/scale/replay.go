package main

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/source"
)

// replayOpenings runs the operator's offline decision path over the
// warehouse for one Metric as the cluster holds it, as `kubectl cx
// backtest` does: engine.Replay from the manager's first evaluation (t0)
// to the interval ending at to, on the same file, spec and clock points.
// It returns, per segment, the end of the interval whose evaluation opens
// its first task at or after from: the data that proves the drop by the
// operator's own decision rule; and the detector after the last
// evaluation.
func (cp *cluster) replayOpenings(ctx context.Context, key client.ObjectKey, from, to time.Time) (map[string]time.Time, *engine.Detector, error) {
	var m cxv1.Metric
	if err := cp.c.Get(ctx, key, &m); err != nil {
		return nil, nil, err
	}
	var ds cxv1.DataSource
	if err := cp.c.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: m.Spec.Source.Name}, &ds); err != nil {
		return nil, nil, err
	}
	spec, err := metricspec.Translate(&m)
	if err != nil {
		return nil, nil, err
	}
	src, err := (&metricspec.Sources{Roots: []string{cp.dataDir}}).Get(ctx, &ds)
	if err != nil {
		return nil, nil, err
	}
	defer src.Close()
	// Replay evaluates at every boundary after its start: t0 first.
	res, err := engine.Replay(ctx, src, spec, t0.Add(-spec.Interval), to, engine.ReplayOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("replay %s: %w", key, err)
	}
	out := map[string]time.Time{}
	for _, ev := range res.Events {
		if ev.Event != engine.EventTaskOpened || ev.At.Before(from) {
			continue
		}
		if _, ok := out[ev.Segment]; !ok {
			out[ev.Segment] = ev.At
		}
	}
	return out, res.Last.Detector, nil
}

// accountSegment is the segment key of one account of a Metric segmented
// by account.
func accountSegment(account string) string {
	return source.SegmentKey(map[string]string{"account": account})
}

// openedAt is the end of the interval whose evaluation created the task:
// the manager's clock when it planned it, which set its due date dueAfter
// later.
func openedAt(t cxv1.ImprovementTask, dueAfter time.Duration) (time.Time, bool) {
	if t.Spec.DueDate == nil {
		return time.Time{}, false
	}
	return t.Spec.DueDate.Add(-dueAfter).Truncate(24 * time.Hour), true
}
