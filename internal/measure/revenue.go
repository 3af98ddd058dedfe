package measure

// RevenueRatio names a revenue ratio of sums over the accounts recurring at
// the start of the period.
type RevenueRatio string

const (
	// NRR is (start + expansion − contraction − churned) ÷ start.
	NRR RevenueRatio = "NRR"
	// GRR is (start − contraction − churned) ÷ start.
	GRR RevenueRatio = "GRR"
	// ExpansionRate is expansion ÷ start.
	ExpansionRate RevenueRatio = "Expansion"
	// ContractionRate is contraction ÷ start.
	ContractionRate RevenueRatio = "Contraction"
	// ChurnedRevenueRate is churned revenue ÷ start.
	ChurnedRevenueRate RevenueRatio = "ChurnedRevenue"
)

// RevenueMovement is one account's recurring revenue over a period: the
// sums a warehouse keeps per account (MRR or ARR, one currency).
type RevenueMovement struct {
	// Starting is the recurring revenue at the start of the period.
	Starting float64
	// Expansion is the revenue added by upgrades and cross-sells.
	Expansion float64
	// Contraction is the revenue lost by downgrades (a positive amount).
	Contraction float64
	// Churned is the revenue lost by cancellation (a positive amount).
	Churned float64
}

// Row maps the account to a ratio-of-sums row for the "ratio" formula, so
// the value is Σnum/Σden over accounts and the delta method gives its
// interval. An unknown ratio gives an unrated row.
func (m RevenueMovement) Row(kind RevenueRatio) Row {
	r := Row{Valid: true, Den: m.Starting}
	switch kind {
	case NRR:
		r.Num = m.Starting + m.Expansion - m.Contraction - m.Churned
	case GRR:
		r.Num = m.Starting - m.Contraction - m.Churned
	case ExpansionRate:
		r.Num = m.Expansion
	case ContractionRate:
		r.Num = m.Contraction
	case ChurnedRevenueRate:
		r.Num = m.Churned
	default:
		return Row{}
	}
	return r
}

// CoverageRow maps an account to a row of revenue coverage (annual revenue
// of accounts with at least one response in the window ÷ total annual
// revenue) for the "ratio" formula.
func CoverageRow(annualRevenue float64, responded bool) Row {
	r := Row{Valid: true, Den: annualRevenue}
	if responded {
		r.Num = annualRevenue
	}
	return r
}
