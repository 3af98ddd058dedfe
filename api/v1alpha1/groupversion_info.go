// Package v1alpha1 contains the cxloop.dev/v1alpha1 API: DataSource, Metric,
// Team and ImprovementTask. The doc comments on every field are the user
// documentation shown by `kubectl explain`.
//
// +kubebuilder:object:generate=true
// +groupName=cxloop.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every cxloop kind.
	GroupVersion = schema.GroupVersion{Group: "cxloop.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the cxloop kinds with a runtime scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the cxloop kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
