// Package detect holds the decisions that open, verify and reopen
// improvement tasks: a one-sided CUSUM change detector on per-unit
// contributions, its calibration to a false-task budget shared by all of a
// metric's segments, detectability at the observed volume, and
// verification of a fix on fresh data with repeated looks controlled.
//
// # Change detection
//
// Each segment's detector is fed the contributions (measure.Contribution)
// of every evaluation's new data exactly once. For a metric that should
// stay AtLeast its reference μ0 (the target, or a frozen baseline), with
// in-control standard deviation σ of one contribution and δ the smallest
// shift worth a task, a batch of n effective units (Kish) with mean x̄
// moves the standardised statistic by
//
//	S ← max(0, S + n·((μ0 − x̄)/σ − k)),  k = δ/(2σ)
//
// (mirrored for AtMost), which is the per-unit CUSUM with the reference
// value μ0 − δ/2, evaluated at batch ends. An episode opens when S crosses
// the threshold h; its start is the time S last left zero, the detector's
// estimate of when the change began. While an episode is open S is capped
// at h, so after the drop ends S returns to zero within about h/k units and
// the episode closes there.
//
// # False-task budget
//
// Siegmund's approximation gives the in-control average run length, in
// units, of a CUSUM with threshold h and reference k:
//
//	ARL0(h) = (exp(2k·b) − 2k·b − 1)/(2k²),  b = h + 1.166
//
// A metric with a budget of B false tasks per month whose segments
// (including the whole population) receive V units a month in total opens
// false tasks at V/ARL0(h) a month when every segment sits at its
// reference, so h is solved from ARL0(h) = V/(0.8·B): the margin covers
// the approximation's error for skewed contributions fed in batches, as
// bench/simulate measures. One threshold serves every segment, which
// splits the budget across segments in proportion to their volume (a
// segment with a share v of the units spends a share v of the budget), and
// a metric split by 1,000 accounts gets the same budget as an unsegmented
// one. SegmentVerdict shows each segment's statistic against that
// threshold. A relative objective's frozen baseline is itself an estimate:
// CalibrateWithBaseline averages the false-task rate over its error, which
// raises the threshold for a baseline of few units. Checked after batches
// of n units rather than after every unit, the statistic overshoots the
// threshold by more, so the overshoot correction 1.166 grows to 1.166·√n. The solve is a bisection over closed
// forms: microseconds per reconcile.
//
// # Skewed contributions and dependent data
//
// 2k is the Cramér exponent of a normal step: the positive root θ* of
// E[exp(θ·Z)] = 1 for one batch's increment Z. Rates, shares and scores
// near the end of their scale have skewed contributions, so where the
// formula gives one unit's law at the reference (NullOf: the score mix
// tilted to it, or the maximum-entropy law on an effort scale) the
// calibration solves θ* per segment's batch (cramer.go) and uses the
// generalised (exp(θ*·b) − θ*·b − 1)/(θ*·μ). Real data is not
// independent either: a Calibration measures on the metric's own history
// how much more interval means vary than σ²/n says (a common mood, account
// campaigns, weights that follow the values), a batch steps the statistic
// as its effective units σ²/(σ²/n + D), and the threshold averages the
// false-task rate over the estimate's error (dispersion.go).
//
// # Detectability
//
// Under a shift Δ the statistic drifts upwards at μ = Δ/σ − k per unit, and
// its first passage over b takes about b/μ units with variance b/μ³. The
// smallest shift found within a horizon with 80 % probability solves
// b/μ + 0.84·sqrt(b/μ³) = horizon volume.
//
// # Verification
//
// A fix is judged only on data newer than the owner's resolution. The
// question is whether the drop that opened the task persists: H0 "the mean
// is still at or beyond the null", the detector's reference (μ0 − δ/2 for
// AtLeast) or the level the episode was opened on where that is on the good
// side, never μ0 − δ: the detector opens on drops from δ/2, so a fix that
// did nothing is verified at most at the level whatever the drop. The level
// is spent over a task's attempts (AttemptLevel, α·6/(π²j²)). Early looks
// bet against the null with an empirical-Bernstein capital process for
// bounded contributions (Waudby-Smith and Ramdas) at half the attempt's
// level, so looking at every evaluation cannot verify by luck and a few
// quiet units prove nothing; at the end of the verify window one
// fixed-horizon test, its deviation never below the null variance, spends
// the other half. RequiredSamples states n*, the fresh volume that proves a
// fix which restored the target with 80 % probability. The same sequence
// says Persists when it puts the mean wholly on the bad side. Fewer fresh
// units than the minimum never decide anything.
//
// # One batch at a time
//
// Feed steps every segment of one interval's batch once. Aligning the
// intervals, choosing what to feed, replaying history and judging tasks
// are internal/engine's: this package holds the statistics only.
//
// # Metrics without units
//
// Ratios of sums, gauges and derived expressions have no per-unit
// contributions. They are judged once per closed, non-overlapping window by
// TumblingBreach at the level TumblingLevel gives: the budget times the
// window's share of a month, split across segments, so the same monthly
// budget holds. Detection is slower, and status says so.
//
// # Without history
//
// Where no baseline exists to estimate σ, TargetSigma gives the formula's
// deviation at the target (shares exactly, NPS at its largest), which only
// errs towards a slower detector.
//
// The package must not import Kubernetes packages.
package detect
