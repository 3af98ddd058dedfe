// Package controllers holds one thin reconciler per cxloop kind. A
// reconciler gets its object, translates it with internal/metricspec,
// calls internal/engine, applies the result and patches status once;
// decisions about customer experience live in the engine, never here.
// Only the manager (cmd/manager) and the demo import this package: the
// plugin's plan, backtest and validate must not.
package controllers
