package scorecard

import "math"

// Linkage sets one business outcome (renewal, churn, NRR per account)
// beside the experience scores: its mean over the accounts at risk and
// over the judged accounts that are not, with how many of each had a
// value. It shows whether low scores go with worse outcomes; it does not
// prove they cause them.
type Linkage struct {
	Name                            string
	AtRisk, Healthy                 float64 // NaN without accounts
	AtRiskAccounts, HealthyAccounts int
}

// Link sets each outcome (values by key, in outcomes' name order given by
// names) beside the result's accounts.
func Link(res Result, names []string, outcomes map[string]map[string]float64) []Linkage {
	out := make([]Linkage, 0, len(names))
	for _, name := range names {
		values := outcomes[name]
		l := Linkage{Name: name}
		var risk, healthy float64
		for _, a := range res.Accounts {
			v, ok := values[a.Key]
			if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			switch {
			case a.AtRisk:
				risk += v
				l.AtRiskAccounts++
			case !a.unjudged:
				healthy += v
				l.HealthyAccounts++
			}
		}
		l.AtRisk, l.Healthy = mean(risk, l.AtRiskAccounts), mean(healthy, l.HealthyAccounts)
		out = append(out, l)
	}
	return out
}

func mean(sum float64, n int) float64 {
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}
