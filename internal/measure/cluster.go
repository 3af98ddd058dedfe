package measure

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// UnratedScore is the score key under which Clusters.Pairs keeps the
// unrated units of a categorical formula whose unrated policy counts them
// as negative. No scale reaches it.
const UnratedScore int64 = math.MinInt64

// ScorePair names one entry of the symmetric matrix Σ_c W_{c,s}·W_{c,t}:
// the scores s = Lo ≤ t = Hi (UnratedScore for the unrated units).
type ScorePair struct {
	Lo, Hi int64
}

// Pair returns the pair of scores a and b in order.
func Pair(a, b int64) ScorePair {
	if a > b {
		a, b = b, a
	}
	return ScorePair{Lo: a, Hi: b}
}

// MarshalText writes the pair as "lo,hi", "unrated" standing for
// UnratedScore, so a pair can key a JSON object.
func (p ScorePair) MarshalText() ([]byte, error) {
	return []byte(scoreText(p.Lo) + "," + scoreText(p.Hi)), nil
}

// UnmarshalText reads what MarshalText writes.
func (p *ScorePair) UnmarshalText(b []byte) error {
	lo, hi, ok := strings.Cut(string(b), ",")
	if !ok {
		return fmt.Errorf("score pair %q: want lo,hi", b)
	}
	a, err := parseScore(lo)
	if err != nil {
		return err
	}
	c, err := parseScore(hi)
	if err != nil {
		return err
	}
	*p = Pair(a, c)
	return nil
}

func scoreText(k int64) string {
	if k == UnratedScore {
		return "unrated"
	}
	return strconv.FormatInt(k, 10)
}

func parseScore(s string) (int64, error) {
	if s == "unrated" {
		return UnratedScore, nil
	}
	k, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("score pair: %w", err)
	}
	return k, nil
}

// Clusters holds the cross sums of clusters (the accounts responses belong
// to) behind the cluster-robust variance of a weighted mean,
//
//	Var(x̄_w) = Σ_c (S_c − x̄·W_c)² / (Σw)²,  S_c = Σ_{i∈c} w_i·x_i,  W_c = Σ_{i∈c} w_i,
//
// which stays right when the responses of one account move together.
// Only sums are kept, so Clusters merge exactly by adding. A cluster is
// taken within one query's time range and one segment: merging the
// statistics of two ranges, or of two segments into the whole, counts an
// account present in both as two clusters. Correlation across ranges is
// what the detector's long-run variance measures; across segments it is
// left out.
type Clusters struct {
	// G counts the clusters with at least one rated unit.
	G int64 `json:"g"`
	// Pairs holds Σ_c W_{c,s}·W_{c,t} per pair of scores s ≤ t, for the
	// Categorical family and a Quantile with a ShareOver threshold (scores
	// 0 and 1): any formula's contribution per score gives S_c from it.
	Pairs map[ScorePair]float64 `json:"pairs,omitempty"`
	// SumSS, SumSW and SumWW are Σ_c S_c², Σ_c S_c·W_c and Σ_c W_c², for
	// the Moments and Gauge families.
	SumSS float64 `json:"sumSS,omitempty"`
	SumSW float64 `json:"sumSW,omitempty"`
	SumWW float64 `json:"sumWW,omitempty"`
	// SumNumNum, SumDenDen and SumNumDen are Σ_c Num_c², Σ_c Den_c² and
	// Σ_c Num_c·Den_c, Num_c and Den_c being the cluster's Σw·num and
	// Σw·den, for the RatioOfSums family.
	SumNumNum float64 `json:"sumNumNum,omitempty"`
	SumDenDen float64 `json:"sumDenDen,omitempty"`
	SumNumDen float64 `json:"sumNumDen,omitempty"`
}

// AddPair adds v to the entry of scores a and b.
func (c *Clusters) AddPair(a, b int64, v float64) {
	if c.Pairs == nil {
		c.Pairs = make(map[ScorePair]float64, 6)
	}
	c.Pairs[Pair(a, b)] += v
}

// Merge adds o into c.
func (c *Clusters) Merge(o *Clusters) {
	if o == nil {
		return
	}
	c.G += o.G
	for k, v := range o.Pairs {
		c.AddPair(k.Lo, k.Hi, v)
	}
	c.SumSS += o.SumSS
	c.SumSW += o.SumSW
	c.SumWW += o.SumWW
	c.SumNumNum += o.SumNumNum
	c.SumDenDen += o.SumDenDen
	c.SumNumDen += o.SumNumDen
}

// Clone returns a deep copy of c.
func (c *Clusters) Clone() *Clusters {
	out := *c
	out.Pairs = nil
	for k, v := range c.Pairs {
		out.AddPair(k.Lo, k.Hi, v)
	}
	return &out
}

// clusters returns s.Clusters, creating it.
func (s *Stats) clusters() *Clusters {
	if s.Clusters == nil {
		s.Clusters = &Clusters{}
	}
	return s.Clusters
}

// MarkClustered gives s empty cluster sums if it has none, so statistics
// of a clustered query without units still say they were clustered.
func (s *Stats) MarkClustered() { s.clusters() }

// AddCluster adds the cross sums of one cluster to s. c holds the
// cluster's units folded under d (Fold), in the same query range and
// segment; it is not modified. In-process sources and simulations fold
// each cluster's rows into a Stats of its own and add it here when the
// range is read; SQL sources compute the same sums in the database.
func (d Definition) AddCluster(s, c *Stats) {
	negUnrated := d.Unrated == UnratedCountAsNegative && d.Family() == Categorical && c.Unrated.N > 0
	if c.Total.N == 0 && !negUnrated {
		s.MarkClustered()
		return
	}
	cl := s.clusters()
	if c.Total.N > 0 {
		cl.G++
	}
	switch d.Family() {
	case Categorical, Quantile:
		type entry struct {
			k int64
			w float64
		}
		es := make([]entry, 0, len(c.Scores)+1)
		for k, v := range c.Scores.All() {
			es = append(es, entry{k, v.W})
		}
		if negUnrated {
			es = append(es, entry{UnratedScore, c.Unrated.W})
		}
		for i, a := range es {
			for _, b := range es[i:] {
				cl.AddPair(a.k, b.k, a.w*b.w)
			}
		}
	case MomentsFamily, Gauge:
		sc, wc := c.Moments.SumWX, c.Total.W
		cl.SumSS += sc * sc
		cl.SumSW += sc * wc
		cl.SumWW += wc * wc
	case RatioOfSums:
		n, m := c.Ratio.SumNum, c.Ratio.SumDen
		cl.SumNumNum += n * n
		cl.SumDenDen += m * m
		cl.SumNumDen += n * m
	}
}
