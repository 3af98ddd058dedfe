package measure

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// clustered is a row with the cluster (account) it belongs to.
type clustered struct {
	cluster string
	row     Row
}

// foldClustered folds rows the way a source does for a clustered query:
// every row into the whole, and each cluster's rows into a Stats of its
// own whose cross sums are added at the end.
func foldClustered(d Definition, rs []clustered) *Stats {
	s := &Stats{}
	per := map[string]*Stats{}
	var order []string
	for _, r := range rs {
		d.Fold(s, r.row)
		c, ok := per[r.cluster]
		if !ok {
			c = &Stats{}
			per[r.cluster] = c
			order = append(order, r.cluster)
		}
		d.Fold(c, r.row)
	}
	s.MarkClustered()
	for _, k := range order {
		d.AddCluster(s, per[k])
	}
	return s
}

func singletons(rs []Row) []clustered {
	out := make([]clustered, len(rs))
	for i, r := range rs {
		out[i] = clustered{cluster: string(rune('a' + i)), row: r}
	}
	return out
}

func contributionOf(t *testing.T, d Definition, s *Stats) Contribution {
	t.Helper()
	c, err := Contributions(d, s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMeanVarianceByHand checks the three variances of a batch's mean on
// small batches worked out by hand.
func TestMeanVarianceByHand(t *testing.T) {
	nps := Definition{Formula: FormulaNPS}
	ces := Definition{Formula: FormulaCES}
	cases := []struct {
		name       string
		def        Definition
		rows       []clustered
		meanVar    float64
		design     float64
		clusters   int64
		unclusterd float64 // the same rows without cluster sums
	}{
		// x = +100, +100 (account a), −100 (b), 0 (c); m = 25.
		// Σ_c (S_c − m·W_c)² = 150² + 125² + 25² = 38750, / 4² = 2421.875.
		// Variance 27500/4 = 6875, iid 6875/4 = 1718.75.
		{"nps, one account answering twice", nps, []clustered{{"a", Row{Value: 10, Valid: true}}, {"a", Row{Value: 9, Valid: true}},
			{"b", Row{Value: 0, Valid: true}}, {"c", Row{Value: 8, Valid: true}}}, 2421.875, 6875 / 2421.875, 3, 1718.75},
		// Unit weights, one response per account: exactly the iid variance.
		{"nps singletons", nps, singletons(rows(10, 9, 0, 8)), 1718.75, 4, 4, 1718.75},
		// CES (x, w): (1, 10), (7, 10), (4, 1), (4, 1); m = 88/22 = 4.
		// Sandwich Σw²(x − m)² = 100·9 + 100·9 = 1800, / 22² = 3.71900826…
		// Variance (90 + 90)/22, Kish n_eff 484/202.
		{"ces, polarised heavy accounts", ces, singletons([]Row{{Value: 1, Valid: true, Weight: 10}, {Value: 7, Valid: true, Weight: 10},
			{Value: 4, Valid: true, Weight: 1}, {Value: 4, Valid: true, Weight: 1}}), 1800.0 / 484, (180.0 / 22) / (1800.0 / 484), 4, 1800.0 / 484},
		// CES by account: a = {2, 4}, b = {6}; m = 4; S − m·W: −2, 2;
		// Σ = 8, / 9. Variance (4 + 0 + 4)/3, iid 8/9 as well.
		{"ces, two accounts", ces, []clustered{{"a", Row{Value: 2, Valid: true}}, {"a", Row{Value: 4, Valid: true}},
			{"b", Row{Value: 6, Valid: true}}}, 8.0 / 9, 3, 2, 8.0 / 9},
		// Unrated as detractors: x = +100 (a), −100 unrated (a), +100 (b).
		// m = 100/3; S_a − m·2 = −200/3, S_b − m = 200/3; Σ = 2·(200/3)², / 9.
		// The account's answers cancel, so the mean is steadier than iid:
		// Variance/MeanVariance is 9, capped at the 3 units.
		{"nps unrated as detractor", Definition{Formula: FormulaNPS, Unrated: UnratedCountAsNegative}, []clustered{{"a", Row{Value: 10, Valid: true}},
			{"a", Row{Valid: false}}, {"b", Row{Value: 10, Valid: true}}}, 2 * (200.0 / 3) * (200.0 / 3) / 9, 3, 2,
			(8e4 / 9) / 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := foldClustered(c.def, c.rows)
			if err := c.def.CheckStats(s); err != nil {
				t.Fatal(err)
			}
			got := contributionOf(t, c.def, s)
			if got.Clusters != c.clusters {
				t.Errorf("clusters %d, want %d", got.Clusters, c.clusters)
			}
			assertNear(t, "mean variance", got.MeanVariance(), c.meanVar, 1e-12)
			assertNear(t, "design units", got.DesignUnits(), c.design, 1e-12)
			var plain []Row
			for _, r := range c.rows {
				plain = append(plain, r.row)
			}
			u := contributionOf(t, c.def, fold(c.def, plain))
			assertNear(t, "mean variance without clusters", u.MeanVariance(), c.unclusterd, 1e-12)
		})
	}
}

// TestIIDReproduced: with unit weights and singleton clusters, the
// cluster-robust, sandwich and iid variances of every formula with units
// are Variance()/N.
func TestIIDReproduced(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	defs := []Definition{{Formula: FormulaNPS}, {Formula: FormulaNPS, Unrated: UnratedCountAsNegative}, {Formula: FormulaCSAT},
		{Formula: FormulaRate}, {Formula: FormulaCES}, {Formula: FormulaMean}, {Formula: FormulaPercentile, Percentile: 90, ShareOver: &fourHoursThreshold}}
	for _, d := range defs {
		var rs []Row
		for range 300 {
			var b [4]byte
			for j := range b {
				b[j] = byte(rng.UintN(256))
			}
			r := decodeRow(d, b)
			r.Weight = 0
			rs = append(rs, r)
		}
		c := contributionOf(t, d, foldClustered(d, singletons(rs)))
		iid := c.Variance() / float64(c.Units.N)
		assertNear(t, d.Formula+" clustered", c.MeanVariance(), iid, 1e-9)
		assertNear(t, d.Formula+" design units", c.DesignUnits(), float64(c.Units.N), 1e-9)
		plain := contributionOf(t, d, fold(d, rs))
		assertNear(t, d.Formula+" sandwich", plain.MeanVariance(), iid, 1e-9)
		plain.SumW2X, plain.SumW2X2 = 0, 0 // a source without w² sums
		assertNear(t, d.Formula+" iid", plain.MeanVariance(), iid, 1e-9)
	}
}

// TestPolarisedWeightsExceedKish: heavy accounts at both ends of the scale
// make the mean noisier than Kish's n_eff says, and the design units fewer.
func TestPolarisedWeightsExceedKish(t *testing.T) {
	d := Definition{Formula: FormulaNPS}
	var rs []Row
	for i := range 1000 {
		switch {
		case i%10 == 0:
			rs = append(rs, Row{Value: 10, Valid: true, Weight: 20})
		case i%10 == 1:
			rs = append(rs, Row{Value: 0, Valid: true, Weight: 20})
		default:
			rs = append(rs, Row{Value: 8, Valid: true, Weight: 1})
		}
	}
	c := contributionOf(t, d, fold(d, rs))
	kish := c.Variance() / c.Units.EffectiveN()
	// By hand: W = 4800, m = 0, Variance = 4000·1e4/4800, Σw² = 200·400 + 800.
	assertNear(t, "kish", kish, (4e7/4800)/(4800.0*4800/80800), 1e-12)
	if !(c.MeanVariance() > 1.15*kish) {
		t.Errorf("sandwich %v, Kish %v: polarised weights should be noisier", c.MeanVariance(), kish)
	}
	if !(c.DesignUnits() < c.Units.EffectiveN()) {
		t.Errorf("design units %v, Kish n_eff %v", c.DesignUnits(), c.Units.EffectiveN())
	}
	// Σw²(x−m)² by hand: m = (100·2000 − 100·2000)/W = 0, 200 rows of w² = 400 at x² = 1e4.
	assertNear(t, "sandwich", c.MeanVariance(), 200*400*1e4/(c.Units.W*c.Units.W), 1e-12)
}

// TestClusteredShardsMergeToWhole: statistics of disjoint groups of
// clusters (segments, shards) merge, in any order, to the statistics of
// their union.
func TestClusteredShardsMergeToWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 4))
	for _, d := range fuzzDefinitions {
		var rs []clustered
		shardOf := map[string]int{}
		for i := range 800 {
			var b [4]byte
			for j := range b {
				b[j] = byte(rng.UintN(256))
			}
			k := string(rune('A' + rng.IntN(40)))
			shardOf[k] = int(k[0]) % 5
			_ = i
			rs = append(rs, clustered{cluster: k, row: decodeRow(d, b)})
		}
		whole := foldClustered(d, rs)
		parts := make([][]clustered, 5)
		for _, r := range rs {
			parts[shardOf[r.cluster]] = append(parts[shardOf[r.cluster]], r)
		}
		fwd, back := &Stats{}, &Stats{}
		for i := range parts {
			fwd.Merge(foldClustered(d, parts[i]))
			back.Merge(foldClustered(d, parts[len(parts)-1-i]).Clone())
		}
		for name, got := range map[string]*Stats{"forward": fwd, "backward": back} {
			if err := statsAgree(got, whole); err != nil {
				t.Fatalf("%s %s: %v", d.Formula, name, err)
			}
			if err := clustersAgree(got.Clusters, whole.Clusters); err != nil {
				t.Fatalf("%s %s: %v", d.Formula, name, err)
			}
			if err := d.CheckStats(got); err != nil {
				t.Fatalf("%s %s: %v", d.Formula, name, err)
			}
			if HasUnits(d) == nil {
				a, b := contributionOf(t, d, got), contributionOf(t, d, whole)
				assertNear(t, d.Formula+" mean variance", a.MeanVariance(), b.MeanVariance(), 1e-9)
			}
		}
		if d.Formula == FormulaRatio {
			assertNear(t, "ratio variance", fwd.RatioVariance(), whole.RatioVariance(), 1e-9)
		}
	}
}

func clustersAgree(a, b *Clusters) error {
	if (a == nil) != (b == nil) {
		return errors.New("clusters on one side only")
	}
	if a == nil {
		return nil
	}
	if a.G != b.G || len(a.Pairs) != len(b.Pairs) {
		return errors.New("cluster counts or pairs differ")
	}
	for k, v := range a.Pairs {
		if !closeRel(v, b.Pairs[k]) {
			return errors.New("cluster pairs differ")
		}
	}
	for _, p := range [][2]float64{{a.SumSS, b.SumSS}, {a.SumSW, b.SumSW}, {a.SumWW, b.SumWW},
		{a.SumNumNum, b.SumNumNum}, {a.SumDenDen, b.SumDenDen}, {a.SumNumDen, b.SumNumDen}} {
		if !closeRel(p[0], p[1]) {
			return errors.New("cluster sums differ")
		}
	}
	return nil
}

// TestRatioVarianceByHand: (num, den) by account a = {(2, 1), (0, 1)},
// b = {(4, 2)}; R = 6/4; residuals per account: 2 − 1.5·2 = −1, 4 − 3 = 1;
// Σ = 2, / 4² = 0.125. Unclustered: residuals 0.5, −1.5, 1; Σ = 3.5, / 16.
func TestRatioVarianceByHand(t *testing.T) {
	d := Definition{Formula: FormulaRatio}
	rs := []clustered{{"a", Row{Num: 2, Den: 1, Valid: true}}, {"a", Row{Num: 0, Den: 1, Valid: true}}, {"b", Row{Num: 4, Den: 2, Valid: true}}}
	assertNear(t, "clustered", foldClustered(d, rs).RatioVariance(), 0.125, 1e-12)
	var plain []Row
	for _, r := range rs {
		plain = append(plain, r.row)
	}
	assertNear(t, "sandwich", fold(d, plain).RatioVariance(), 3.5/16, 1e-12)
}

// TestClusteredStatsPersist: cluster sums survive JSON, pairs keyed by
// text; statistics stored before clusters existed decode without them.
func TestClusteredStatsPersist(t *testing.T) {
	d := Definition{Formula: FormulaNPS, Unrated: UnratedCountAsNegative}
	s := foldClustered(d, []clustered{{"a", Row{Value: 10, Valid: true}}, {"a", Row{}}, {"b", Row{Value: 3, Valid: true}}})
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Stats
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := clustersAgree(back.Clusters, s.Clusters); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if back.Clusters.Pairs[Pair(UnratedScore, 10)] != 1 {
		t.Errorf("unrated pair lost: %s", b)
	}
	var old Stats
	if err := json.Unmarshal([]byte(`{"total":{"n":2,"w":2,"w2":2},"scores":{"10":{"n":2,"w":2,"w2":2}}}`), &old); err != nil {
		t.Fatal(err)
	}
	if old.Clusters != nil {
		t.Error("old statistics decoded with clusters")
	}
	plain, _ := json.Marshal(fold(Definition{Formula: FormulaRate}, rows(1, 0)))
	if json.Valid(plain) && (contains(plain, "clusters") || contains(plain, "sumW2X")) {
		t.Errorf("unclustered statistics carry empty cluster fields: %s", plain)
	}
}

func contains(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return true
		}
	}
	return false
}

// TestCheckStatsClusters: cluster sums that no partition of the units can
// give are refused, including a clustered shard merged with one that was
// not clustered.
func TestCheckStatsClusters(t *testing.T) {
	d := Definition{Formula: FormulaCES}
	good := foldClustered(d, []clustered{{"a", Row{Value: 2, Valid: true}}, {"b", Row{Value: 5, Valid: true}}})
	if err := d.CheckStats(good); err != nil {
		t.Fatal(err)
	}
	mixed := good.Clone()
	mixed.Merge(fold(d, rows(3, 4)))
	tooMany := good.Clone()
	tooMany.Clusters.G = 3
	nan := good.Clone()
	nan.Clusters.SumSS = math.NaN()
	nps := Definition{Formula: FormulaNPS}
	offScale := foldClustered(nps, singletons(rows(10, 3)))
	offScale.Clusters.AddPair(11, 11, 1)
	for name, c := range map[string]struct {
		d Definition
		s *Stats
	}{"mixed": {d, mixed}, "too many clusters": {d, tooMany}, "nan": {d, nan}, "off scale": {nps, offScale}} {
		if err := c.d.CheckStats(c.s); !errors.Is(err, ErrInconsistentStats) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}
