// Package install builds the kustomize overlays under config/ with
// kustomize's own library and checks what they grant against a real API
// server: the cluster-wide install and the namespaced one.
package install
