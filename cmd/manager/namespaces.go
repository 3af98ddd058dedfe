package main

import (
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/cxloop/cxloop/internal/credentials"
)

// cacheOptions limits what the manager watches: every namespace when
// namespaces is empty, else only those, so a namespaced install needs
// Roles in them alone and never sees another tenant's objects. A
// namespace's objects always share one manager.
func cacheOptions(namespaces []string) cache.Options {
	if len(namespaces) == 0 {
		return cache.Options{}
	}
	watched := make(map[string]cache.Config, len(namespaces))
	for _, ns := range namespaces {
		watched[ns] = cache.Config{}
	}
	return credentials.OnlyOptedIn(cache.Options{DefaultNamespaces: watched})
}
