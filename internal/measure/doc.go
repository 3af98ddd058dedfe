// Package measure turns sufficient statistics into the customer-experience
// numbers owners are judged by: values with sample sizes and confidence
// intervals, objective states, two-sample comparisons against a baseline,
// per-unit contributions for change detection, and derived expressions.
//
// Sources return one Stats per segment, computed where the data lives (SQL
// aggregates, PromQL, or Definition.Fold over streamed rows). Stats merge
// associatively and commutatively, exactly on counts, so shards, segments
// and time slices combine in any order; Compute derives the value from the
// merged statistics. Every Estimate carries the hash of the Definition that
// produced it, so a changed rule is never mistaken for a changed experience.
//
// Families and the statistics they need:
//
//	Categorical  nps, csat, rate          Stats.Scores: one Cell per integer score
//	Moments      ces, mean, sum, count    Stats.Moments: Σw·x, Σw·x², min, max
//	Quantile     percentile               Stats.Sketch: log buckets, SketchIndex
//	RatioOfSums  ratio (NRR, GRR, ...)    Stats.Ratio: Σw·num, Σw·den and second moments
//	Gauge        value                    Stats.Moments
//	Derived      derived                  none: a CEL expression of other estimates
//
// Intervals: NPS adjusted-Wald (Rocks 2016), proportions Wilson, means
// Student's t, ratios the delta method, quantiles distribution-free order
// statistics widened by the sketch's 1 % relative error. A quantile can be
// bounded only from enough units: at 95 % a median needs 6, a p90 36, a p95
// 72 and a p99 368; below that its estimate is insufficient whatever
// minSamples says. Sums, counts, gauges and derived values carry no interval.
//
// Every Cell keeps Σw and Σw² beside the count, so Kish's effective size
// (Σw)²/Σw² is the sample size wherever one matters.
//
// The package is pure: it must not import Kubernetes packages, and it does
// no I/O.
package measure
