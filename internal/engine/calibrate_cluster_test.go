package engine

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// accountDays is NPS history in which accounts answer as one: each day
// every account's responses all give the same score, drawn afresh per
// account and day around a level that never moves. It fills cluster sums
// when the query names a cluster column, as a warehouse does.
type accountDays struct {
	accounts, perAccount int
}

func (a accountDays) Query(_ context.Context, d measure.Definition, q source.Query, from, to time.Time) (*source.Result, error) {
	res := &source.Result{Overall: &measure.Stats{}, Segments: map[string]*source.Segment{}}
	if q.Cluster != "" {
		res.Overall.MarkClustered()
	}
	for day := from; day.Before(to); day = day.Add(24 * time.Hour) {
		for acc := range a.accounts {
			r := rand.New(rand.NewPCG(uint64(day.Unix()), uint64(acc)))
			score := []float64{0, 8, 10}[r.IntN(3)]
			one := &measure.Stats{}
			for range a.perAccount {
				row := measure.Row{Value: score, Valid: true}
				d.Fold(res.Overall, row)
				d.Fold(one, row)
			}
			if q.Cluster != "" {
				d.AddCluster(res.Overall, one)
			}
		}
	}
	return res, nil
}

func (accountDays) Check(context.Context) error { return nil }
func (accountDays) Close() error                { return nil }

// A calibration of clustered responses measures the noise that
// clustering adds to each day's mean as sampling noise: σ² grows by the
// design effect (the responses per account), and the level's dispersion,
// which never moved, is not inflated by it. With one response per account
// the cluster sums change nothing.
func TestCalibrationCountsClusteringAsSamplingNoise(t *testing.T) {
	end := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	m := Metric{Definition: measure.Definition{Formula: measure.FormulaNPS}, Location: time.UTC,
		Durations: Durations{Window: 7 * 24 * time.Hour, Interval: 24 * time.Hour}}
	run := func(src source.Source, cluster string) *Calibration {
		t.Helper()
		mm := m
		mm.Query.Cluster = cluster
		c, err := calibrate(context.Background(), src, mm, 5, end)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// One response per account: clusters are singletons, so the cluster-
	// robust variance is the iid one and the calibration is the same.
	singles := accountDays{accounts: 200, perAccount: 1}
	plain, clustered := run(singles, ""), run(singles, "account")
	if plain.Sigma != clustered.Sigma || plain.Dispersion != clustered.Dispersion {
		t.Errorf("singleton clusters changed the calibration: %+v vs %+v", clustered, plain)
	}

	grouped := accountDays{accounts: 40, perAccount: 5}
	plain, clustered = run(grouped, ""), run(grouped, "account")
	// Five identical answers per account: the mean's variance is five
	// times the iid one, so σ² is about five times as large.
	if r := clustered.Sigma * clustered.Sigma / (plain.Sigma * plain.Sigma); math.Abs(r-5) > 0.5 {
		t.Errorf("σ² ratio %.2f, want about 5 (σ %v clustered, %v not)", r, clustered.Sigma, plain.Sigma)
	}
	// Unclustered, the accounts' shared answers read as a moving level.
	if !(clustered.Dispersion < plain.Dispersion/4) {
		t.Errorf("dispersion %v clustered, %v not: clustering should count as sampling noise", clustered.Dispersion, plain.Dispersion)
	}
}
