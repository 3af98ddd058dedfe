// Package e2e holds whole-loop scenarios on an embedded control plane:
// Metrics measured on the seeded demo warehouse, tasks opened, delivered to
// a GitHub-compatible tracker, moved by their owners and verified, with the
// manager killed and started afresh between any two of its writes.
package e2e
