package metricspec

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/response"
	"github.com/cxloop/cxloop/internal/scorecard"
)

// Scorecard defaults.
const (
	DefaultMemberMinSamples    = 5
	DefaultScorecardConfidence = 0.95
	DefaultMinCoverage         = 0.5
)

// ScorecardMember is a member as the scorecard engine scores it, on scale.
func ScorecardMember(sm cxv1.ScorecardMember, scale scorecard.Scale) scorecard.Member {
	m := scorecard.Member{Name: sm.Name, Weight: 1, Scale: scale}
	if sm.Weight != nil {
		m.Weight = *sm.Weight
	}
	if p := sm.Personas; p != nil {
		m.Personas = make(map[string]float64, len(p.Weights))
		for _, w := range p.Weights {
			m.Personas[w.Persona] = w.Weight
		}
		m.OtherPersonas = 1
		if p.OtherWeight != nil {
			m.OtherPersonas = *p.OtherWeight
		}
	}
	return m
}

// MemberMinSamples is the fewest units a member needs per key.
func MemberMinSamples(sm cxv1.ScorecardMember) int64 {
	if sm.MinSamples != nil {
		return *sm.MinSamples
	}
	return DefaultMemberMinSamples
}

// ScorecardConfidence is the confidence of a scorecard's intervals.
func ScorecardConfidence(sc *cxv1.Scorecard) float64 {
	if c := sc.Spec.Objective.Confidence; c > 0 && c < 1 {
		return c
	}
	return DefaultScorecardConfidence
}

// MemberRates are a member's response rates by account, nil for a member
// whose Metric names no invitations.
type MemberRates map[string]response.Rate

// ApplyScorecard writes a scored scorecard into its status.
func ApplyScorecard(st *cxv1.ScorecardStatus, scored Scored, now time.Time) {
	res, members := scored.Result, scored.Members
	st.EvaluatedAt = &metav1.Time{Time: now}
	st.Index, st.IndexLower, st.IndexUpper = finite(res.Index), finite(res.IndexLower), finite(res.IndexUpper)
	st.Accounts = int32(len(res.Accounts))
	st.Unvalued = int32(res.Unvalued)
	st.Distribution = nil
	if len(res.Accounts) > 0 {
		q := res.Quantiles
		st.Distribution = &cxv1.ScoreDistribution{P10: q[0], P25: q[1], Median: q[2], P75: q[3], P90: q[4]}
	}
	st.AccountsAtRisk = int32(len(res.AtRisk))
	st.Unjudged = int32(res.Unjudged)
	st.ValueAtRisk = nil
	if len(res.AtRisk) > 0 {
		st.ValueAtRisk = ptr(res.ValueAtRisk)
	}
	st.AtRisk = st.AtRisk[:0]
	for _, a := range res.AtRisk[:min(len(res.AtRisk), cxv1.MaxScorecardAccountsListed)] {
		st.AtRisk = append(st.AtRisk, scorecardAccount(a, &scored))
	}
	if len(st.AtRisk) == 0 {
		st.AtRisk = nil
	}
	st.EncodedAccounts = encodeScorecardAccounts(&scored)
	st.Outcomes = nil
	for _, l := range scored.Linkage {
		st.Outcomes = append(st.Outcomes, cxv1.OutcomeLinkage{Name: l.Name, AtRisk: finite(l.AtRisk), Healthy: finite(l.Healthy),
			AtRiskAccounts: int32(l.AtRiskAccounts), HealthyAccounts: int32(l.HealthyAccounts)})
	}
	counts := make([]int32, len(members))
	for _, a := range res.Accounts {
		for i, ms := range a.Members {
			if !ms.Missing {
				counts[i]++
			}
		}
	}
	st.Members = make([]cxv1.ScorecardMemberStatus, len(members))
	for i, m := range members {
		st.Members[i] = cxv1.ScorecardMemberStatus{Name: m.Name, Accounts: counts[i], Floor: ptr(m.Scale.Floor),
			Target: ptr(m.Scale.Target)}
	}
}

// EncodeScorecardAccounts encodes a scorecard's accounts in the layout of
// ScorecardStatus.EncodedAccounts; empty without accounts.
func EncodeScorecardAccounts(res scorecard.Result) string {
	return encodeScorecardAccounts(&Scored{Result: res})
}

func encodeScorecardAccounts(scored *Scored) string {
	res := scored.Result
	if len(res.Accounts) == 0 {
		return ""
	}
	kept := slices.Clone(res.Accounts)
	if len(kept) > cxv1.MaxScorecardAccountsEncoded {
		slices.SortStableFunc(kept, func(x, y scorecard.Account) int {
			return cmp.Or(cmp.Compare(y.Value, x.Value), cmp.Compare(x.Score, y.Score))
		})
		kept = kept[:cxv1.MaxScorecardAccountsEncoded]
	}
	out := make([]cxv1.ScorecardAccount, len(kept))
	for i, a := range kept {
		out[i] = scorecardAccount(a, scored)
	}
	slices.SortFunc(out, func(x, y cxv1.ScorecardAccount) int { return cmp.Compare(x.Key, y.Key) })
	body, err := json.Marshal(out)
	if err != nil { // finite numbers only: scorecardAccount drops the rest
		return ""
	}
	return packBody(body)
}

// DecodeScorecardAccounts decodes ScorecardStatus.EncodedAccounts.
func DecodeScorecardAccounts(encoded string) ([]cxv1.ScorecardAccount, error) {
	if encoded == "" {
		return nil, nil
	}
	body, err := unpackBody(encoded)
	if err != nil {
		return nil, fmt.Errorf("scorecard accounts: %w", err)
	}
	var out []cxv1.ScorecardAccount
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("scorecard accounts: %w", err)
	}
	return out, nil
}

func scorecardAccount(a scorecard.Account, scored *Scored) cxv1.ScorecardAccount {
	rates := scored.Rates
	out := cxv1.ScorecardAccount{Key: a.Key, Score: a.Score, Lower: a.Lower, Upper: a.Upper, Coverage: a.Coverage,
		PulledDownBy: a.PulledDownBy}
	if a.HasValue {
		out.Value = finite(a.Value)
	}
	for _, l := range scored.Linkage {
		ov := cxv1.OutcomeValue{Name: l.Name}
		if v, ok := scored.Outcomes[l.Name][a.Key]; ok {
			ov.Value = finite(v)
		}
		out.Outcomes = append(out.Outcomes, ov)
	}
	for i, ms := range a.Members {
		s := cxv1.ScorecardMemberScore{Name: ms.Name, Missing: ms.Missing}
		if !ms.Missing {
			s.Value, s.Score, s.Samples = finite(ms.Value), ptr(ms.Score), ms.Samples
		}
		if i < len(rates) && rates[i] != nil {
			if r, ok := rates[i][a.Key]; ok && r.Invitations > 0 {
				s.ResponseRate, s.LowResponseRate = ptr(r.Rate), r.Low
				out.LowResponseRate = out.LowResponseRate || r.Low
			}
		}
		out.Members = append(out.Members, s)
	}
	return out
}

func ptr(v float64) *float64 { return &v }

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}
