// Package scorecard combines several metrics into one health score per
// key, typically per account: each member metric is normalised to 0–100
// (0 at its floor, 100 at its target or better, linear between), an
// account's members are averaged with their weights, and the index over
// accounts is weighted by each account's value, such as its annual
// revenue. Intervals are carried through every step (the delta method,
// members and accounts taken as independent), a member without data for
// an account is missing, never 0, and persona weighting lets each
// stakeholder group of an account (executives, admins, end users) count
// as a group, so one contact never stands for the account.
//
// The package is pure: it knows no source and no Kubernetes type. A
// controller reads each member's per-key estimates and hands them over.
package scorecard
