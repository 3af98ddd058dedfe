package simulate

import (
	"context"
	"testing"

	"github.com/cxloop/cxloop/internal/measure"
)

// Campaign metrics are clustered by account, and the series answers a
// clustered query as a warehouse would: one cluster per account that
// answered in the range, sums that pass the statistics check, and a mean
// whose cluster-robust variance exceeds what independent answers give,
// since an account's users answer alike. Unclustered, it has no cluster
// sums.
func TestCampaignSeriesClustersByAccount(t *testing.T) {
	c, _ := Find("campaigns-40")
	m := c.Metric()
	if m.Query.Cluster != AccountColumn {
		t.Fatalf("campaign metric clustered by %q", m.Query.Cluster)
	}
	s := newWorld(c, 5, 120).draw(5, Change{})
	def := m.Definition
	ctx := context.Background()
	from, to := Start.Add(30*day), Start.Add(60*day)
	res, err := s.Query(ctx, def, m.Query, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if err := def.CheckStats(res.Overall); err != nil {
		t.Fatal(err)
	}
	// The same sums folded account by account the generic way.
	answered := int64(0)
	ref := &measure.Stats{}
	for _, p := range s.accounts {
		c := between(p, s.dayIndex(from), s.dayIndex(to))
		if c.n != [maxCategories]int64{} {
			answered++
		}
		def.AddCluster(ref, s.stats(&c))
	}
	k := res.Overall.Clusters
	if k == nil || k.G != answered || answered < 5 || ref.Clusters.G != answered || len(k.Pairs) != len(ref.Clusters.Pairs) {
		t.Fatalf("clusters %+v, %d accounts answered, folded %+v", k, answered, ref.Clusters)
	}
	for p, v := range ref.Clusters.Pairs {
		if k.Pairs[p] != v {
			t.Errorf("pair %v = %v, folded %v", p, k.Pairs[p], v)
		}
	}
	cont, err := measure.Contributions(def, res.Overall)
	if err != nil {
		t.Fatal(err)
	}
	iid := cont.Variance() / float64(cont.Units.N)
	if !(cont.MeanVariance() > 2*iid) || !(cont.DesignUnits() < float64(cont.Units.N)/2) {
		t.Errorf("clustered mean variance %v, iid %v, design units %v of %d", cont.MeanVariance(), iid, cont.DesignUnits(), cont.Units.N)
	}
	q := m.Query
	q.Cluster = ""
	plain, err := s.Query(ctx, def, q, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Overall.Clusters != nil || plain.Overall.Total != res.Overall.Total {
		t.Errorf("unclustered query: clusters %+v, total %+v vs %+v", plain.Overall.Clusters, plain.Overall.Total, res.Overall.Total)
	}
}
