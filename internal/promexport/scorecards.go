package promexport

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// MaxScorecardAccountSeries bounds the per-account series of a
// Scorecard: the most valuable accounts at risk only, whatever the number
// of accounts.
const MaxScorecardAccountSeries = 10

// Scorecards publishes each Scorecard's latest scoring as gauges: its
// index, accounts and value at risk, and the score, value and outcomes
// (renewal, churn) of its most valuable accounts at risk (at most
// MaxScorecardAccountSeries), so the series stay bounded.
type Scorecards struct {
	index, accounts, atRisk, valueAtRisk       *prometheus.Desc
	accountScore, accountValue, accountOutcome *prometheus.Desc

	mu         sync.RWMutex
	scorecards map[string][]series // by namespace/name
}

// NewScorecards creates the gauges and registers them with reg.
func NewScorecards(reg prometheus.Registerer) *Scorecards {
	labels := []string{"namespace", "scorecard", "team"}
	g := func(name, help string, more ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("cxloop", "scorecard", name), help, append(append([]string{}, labels...), more...), nil)
	}
	s := &Scorecards{
		index:        g("index", "Latest index of a Scorecard: its accounts' scores, 0-100, weighted by value."),
		accounts:     g("accounts", "Accounts a Scorecard scored."),
		atRisk:       g("accounts_at_risk", "Accounts scoring below a Scorecard's objective."),
		valueAtRisk:  g("value_at_risk", "Sum of the values (such as annual revenue) of a Scorecard's accounts at risk."),
		accountScore: g("account_score", "Score, 0-100, of one of a Scorecard's most valuable accounts at risk.", "account"),
		accountValue: g("account_value", "Value of one of a Scorecard's most valuable accounts at risk.", "account"),
		accountOutcome: g("account_outcome", "An outcome beside the scores (such as renewal rate) of one of a Scorecard's most valuable accounts at risk.",
			"account", "outcome"),
		scorecards: map[string][]series{},
	}
	reg.MustRegister(s)
	return s
}

// Observe publishes a Scorecard's status, replacing what was published of
// it before.
func (s *Scorecards) Observe(sc *cxv1.Scorecard) {
	st := &sc.Status
	base := withLabel([]*dto.LabelPair{labelPair("namespace", metricspec.MetricsLabelValue(sc.Namespace)),
		labelPair("scorecard", metricspec.MetricsLabelValue(sc.Name)),
		labelPair("team", metricspec.MetricsLabelValue(sc.Spec.Owner.Team))}, nil)
	var out []series
	add := func(d *prometheus.Desc, labels []*dto.LabelPair, v float64) {
		out = append(out, series{desc: d, labels: labels, value: v})
	}
	if st.Index != nil {
		add(s.index, base, *st.Index)
	}
	add(s.accounts, base, float64(st.Accounts))
	add(s.atRisk, base, float64(st.AccountsAtRisk))
	if st.ValueAtRisk != nil {
		add(s.valueAtRisk, base, *st.ValueAtRisk)
	}
	seen := map[string]bool{}
	for _, a := range st.AtRisk {
		label := metricspec.MetricsLabelValue(a.Key)
		if seen[label] {
			continue
		}
		if len(seen) == MaxScorecardAccountSeries {
			break
		}
		seen[label] = true
		pairs := withLabel(base, labelPair("account", label))
		add(s.accountScore, pairs, a.Score)
		if a.Value != nil {
			add(s.accountValue, pairs, *a.Value)
		}
		for _, o := range a.Outcomes {
			if o.Value != nil {
				add(s.accountOutcome, withLabel(pairs, labelPair("outcome", metricspec.MetricsLabelValue(o.Name))), *o.Value)
			}
		}
	}
	s.mu.Lock()
	s.scorecards[sc.Namespace+"/"+sc.Name] = out
	s.mu.Unlock()
}

// Forget removes every series of a deleted Scorecard.
func (s *Scorecards) Forget(namespace, name string) {
	s.mu.Lock()
	delete(s.scorecards, namespace+"/"+name)
	s.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (s *Scorecards) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{s.index, s.accounts, s.atRisk, s.valueAtRisk, s.accountScore, s.accountValue, s.accountOutcome} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s *Scorecards) Collect(ch chan<- prometheus.Metric) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, ss := range s.scorecards {
		for i := range ss {
			ch <- &ss[i]
		}
	}
}
