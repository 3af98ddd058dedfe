// Package policy tests the admission policies shipped in config/policy
// against a real API server of their own, so a cluster-wide policy never
// reaches the other suites.
package policy
