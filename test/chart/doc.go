// Package chart tests the Helm chart charts/cxloop with the Helm CLI
// pinned in hack/helm (`make helm`, passed as HELM): it lints and renders,
// its values schema refuses wrong values, its objects and config/'s pass
// the API server's own validation, it grants what the kustomize installs
// grant, and the README's install runs on an embedded control plane.
package chart
