// Package observability proves the shipped Grafana dashboards and the
// PrometheusRule against the real thing: the manager binary runs against a
// control plane (envtest) and does real work, a real Prometheus scrapes its
// authenticated metrics endpoint with a ServiceAccount token bound to
// cxloop-metrics-reader, and every panel query and alert rule is evaluated
// by that Prometheus. It has tests only.
package observability
