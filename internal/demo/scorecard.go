package demo

import (
	"fmt"
	"io"
	"text/tabwriter"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// accountsShown is how many accounts at risk the summary lists.
const accountsShown = 5

// printScorecard prints a scorecard's index and its most valuable accounts
// at risk, each with the member that pulls it down most.
func printScorecard(out io.Writer, sc *cxv1.Scorecard) {
	st := &sc.Status
	fmt.Fprintf(out, "\n==> scorecard %s (owner %s)\n", sc.Name, sc.Spec.Owner.Team)
	if st.Index == nil {
		fmt.Fprintln(out, "no account scored yet")
		return
	}
	fmt.Fprintf(out, "index %.1f [%.1f, %.1f] over %d accounts, weighted by value; objective %.4g\n",
		*st.Index, deref(st.IndexLower), deref(st.IndexUpper), st.Accounts, sc.Spec.Objective.Target)
	if d := st.Distribution; d != nil {
		fmt.Fprintf(out, "account scores: p10 %.1f, quartiles %.1f / %.1f / %.1f, p90 %.1f\n", d.P10, d.P25, d.Median, d.P75, d.P90)
	}
	fmt.Fprintf(out, "accounts below objective: %d, %s at risk\n", st.AccountsAtRisk, money(deref(st.ValueAtRisk)))
	if d := st.Detector; d != nil && d.FedUntil != nil {
		fmt.Fprintf(out, "task decisions on %s windows, the latest judged to %s: %d accounts below %.4g beyond their error",
			sc.Spec.Objective.Window, d.FedUntil.UTC().Format("Jan 02"), len(d.Episodes), sc.Spec.Objective.Target-sc.Spec.Objective.MinShift/2)
		if n := len(st.HeldBack); n > 0 {
			fmt.Fprintf(out, ", %d held back (%s first)", n, st.HeldBack[0].Reason)
		}
		fmt.Fprintln(out)
	}
	for _, o := range st.Outcomes {
		fmt.Fprintf(out, "%s: %s over %d accounts at risk, %s over %d healthy ones\n", o.Name, formatPercent(o.AtRisk),
			o.AtRiskAccounts, formatPercent(o.Healthy), o.HealthyAccounts)
	}
	if len(st.AtRisk) > 0 {
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ACCOUNT\tVALUE\tSCORE [CONFIDENCE INTERVAL]\tCOVERAGE\tPULLED DOWN BY")
		for _, a := range st.AtRisk[:min(len(st.AtRisk), accountsShown)] {
			fmt.Fprintf(w, "%s\t%s\t%.1f [%.1f, %.1f]\t%.0f%%\t%s\n", a.Key, money(deref(a.Value)), a.Score, a.Lower, a.Upper,
				100*a.Coverage, a.PulledDownBy)
		}
		w.Flush()
	}
	if st.Drivers != nil && len(st.Drivers.Associations) > 0 {
		fmt.Fprintf(out, "what moves the account scores (an association, not a proven cause):\n")
		printAssociations(out, st.Drivers)
	}
}

func deref(v *float64) float64 {
	if v == nil {
		return 0
	}
	return *v
}

// money renders an amount as people skim it: 1.2M, 340k.
func money(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// printDrivers prints what moves each Metric that names drivers, and the
// drivers each of its tasks carries.
func printDrivers(out io.Writer, metrics []cxv1.Metric, tasks []cxv1.ImprovementTask) {
	for _, m := range metrics {
		d := m.Status.Drivers
		if d == nil {
			continue
		}
		fmt.Fprintf(out, "\n==> what moves %s across accounts (an association, not a proven cause)\n", m.Name)
		printAssociations(out, d)
		for _, t := range tasks {
			if t.Spec.Metric != m.Name || len(t.Spec.Drivers) == 0 {
				continue
			}
			fmt.Fprintf(out, "task %s for %s carries:", t.Name, segmentLabel(t.Spec.Segment))
			for _, td := range t.Spec.Drivers {
				fmt.Fprintf(out, " %s (Spearman %+.2f", td.Metric, td.Spearman)
				if td.Value != nil {
					fmt.Fprintf(out, ", now %.4g", *td.Value)
					if td.Target != nil {
						fmt.Fprintf(out, " against %.4g", *td.Target)
					}
				}
				fmt.Fprint(out, ")")
			}
			fmt.Fprintln(out)
		}
	}
}

// printAssociations prints ranked driver associations as a table.
func printAssociations(out io.Writer, d *cxv1.DriversStatus) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DRIVER\tSPEARMAN [CONFIDENCE INTERVAL]\tPEARSON\tACCOUNTS\tSUPPORTED")
	for _, a := range d.Associations {
		rho := "-"
		if a.Spearman != nil {
			rho = fmt.Sprintf("%+.2f [%+.2f, %+.2f]", *a.Spearman, deref(a.SpearmanLower), deref(a.SpearmanUpper))
		}
		pearson := "-"
		if a.Pearson != nil {
			pearson = fmt.Sprintf("%+.2f", *a.Pearson)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%v\n", a.Metric, rho, pearson, a.Segments, a.Supported)
	}
	w.Flush()
}

func formatPercent(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", *v)
}
