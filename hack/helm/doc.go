// Package helm pins the Helm CLI the chart is built and tested with, and
// the Prometheus Operator API whose ServiceMonitor and PrometheusRule CRDs
// the tests install (generated from these types with controller-gen). It
// is its own module so that Helm's and the Prometheus Operator's
// Kubernetes library versions never reach the operator's module; `make
// helm` and `make prometheus-operator-crds` build from it.
package helm

import (
	// The ServiceMonitor and PrometheusRule types.
	_ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
)
