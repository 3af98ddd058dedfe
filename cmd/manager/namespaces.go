package main

import (
	"fmt"
	"hash/fnv"

	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/cxloop/cxloop/internal/credentials"
)

// cacheOptions limits what the manager watches: every namespace when
// namespaces is empty, else only those, so a namespaced install needs
// Roles in them alone and never sees another tenant's objects. A
// namespace's objects always share one manager.
//
// The cache keeps objects without their managedFields, which the manager
// never reads (it writes by merge patch and by create): they are a good
// share of every cached Metric, and 2,000 Metrics are cached.
func cacheOptions(namespaces []string) cache.Options {
	o := cache.Options{DefaultTransform: cache.TransformStripManagedFields()}
	if len(namespaces) == 0 {
		return credentials.OnlyOptedIn(o)
	}
	watched := make(map[string]cache.Config, len(namespaces))
	for _, ns := range namespaces {
		watched[ns] = cache.Config{}
	}
	o.DefaultNamespaces = watched
	return credentials.OnlyOptedIn(o)
}

// leaderElectionID names the lease of a manager's shard: managers of one
// shard elect one leader among them, managers of different shards run
// side by side.
func leaderElectionID(shard string) string {
	if shard == "" {
		return "cxloop-manager.cxloop.dev"
	}
	h := fnv.New32a()
	h.Write([]byte(shard))
	return fmt.Sprintf("cxloop-manager-%08x.cxloop.dev", h.Sum32())
}
