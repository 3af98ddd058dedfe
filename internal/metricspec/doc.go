// Package metricspec translates the cxloop.dev API objects into the engine's
// plain inputs: a Metric into a measure.Definition, a source query and
// detector settings; a DataSource into driver settings. The manager and the
// kubectl plugin both use it, so a live evaluation, `kubectl cx plan` and
// `kubectl cx backtest` read a manifest the same way. It is the one bridge
// between the API types and the engine packages, which import no
// Kubernetes code.
package metricspec
