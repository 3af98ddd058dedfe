// Package simulate measures the operator's decisions on real-looking
// customer-experience data, with fixed seeds.
//
// Data is drawn a day at a time as whole counts (Poisson volumes,
// binomial and multinomial answer mixes, never rounded normals) and held
// in memory as a source.Source, so the engine reads it window by window
// exactly as it reads a warehouse. Every case of the Grid departs from
// independent answers at a fixed level in one named way:
//
//   - iid: the reference, NPS, CSAT and CES at 400 to 10,000 responses a
//     month, unsegmented and over 10 segments;
//   - mood: a common AR(1) day-to-day mood on the level;
//   - campaigns: accounts of lognormal sizes at fixed offsets answering in
//     bursts, so the daily account mix varies;
//   - weights: revenue weights tied to answer variance;
//   - atmost: low rates whose good direction is down;
//   - small: a handful of responses a month;
//   - weekly: a weekday and weekend cycle of volume and level;
//   - relative: an objective relative to a measured baseline;
//   - tumbling: a revenue ratio (NRR) judged on non-overlapping windows.
//
// The long-run level of every case sits at its target, so every task
// opened after the calibration history is a false one. Runs go through
// engine.Replay, the operator's own order of Evaluate (the detector state
// carried as status keeps it), PlanTasks and the task reconciler's Verify,
// with owners resolving a set time after a task opens; step drops measure
// detection delay, fixes that did nothing and fixes that restored the
// level measure verification.
package simulate
