// Package demodata generates the demo's embedded SQLite warehouse: a
// business-to-business customer-experience data set (accounts, survey
// responses, support tickets and monthly account revenue) covering a scripted
// timeline, with stable history at each sample Metric's target and planted
// drops whose owners resolve them at preset times.
//
// The whole timeline is written up front, including the days after each
// fix: a source queried with the demo's fast clock sees only rows older
// than its now, so later rows appear as the clock advances. The output is
// deterministic for a given Script (seed included).
//
// Time columns hold UTC text 'YYYY-MM-DD HH:MM:SS' (declared TIMESTAMP), so
// text comparison is time order; see TimeLayout.
//
// The package is pure Go and must not import Kubernetes packages.
package demodata
