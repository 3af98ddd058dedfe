// Package demo shows the whole closed loop on a laptop: it starts an
// embedded control plane (kube-apiserver and etcd), installs the CRDs,
// generates the SQLite warehouse of internal/demodata, applies the sample
// manifests that read it, runs the manager with a fast clock and plays the
// owners' part of the script (resolving tasks at preset times), printing
// the loop as it happens and a summary at the end.
package demo
