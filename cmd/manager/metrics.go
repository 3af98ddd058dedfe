package main

import (
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// metricsServer configures the metrics endpoint. Secure (the default), it
// serves HTTPS and lets a scrape through only when the API server
// authenticates its bearer token (TokenReview) and authorizes `get` on
// the non-resource URL /metrics (SubjectAccessReview), as the
// cxloop-metrics-reader ClusterRole grants: the series carry segment
// values from customers' data, so they are not for anyone who can reach
// the port. Plain HTTP without authentication is available only by
// choice (--metrics-secure=false), for a cluster that secures the path
// another way.
func metricsServer(addr string, secure bool) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: addr}
	if secure {
		opts.SecureServing = true
		opts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	return opts
}
