// Package v1alpha1 contains the cxloop.dev/v1alpha1 API: DataSource, Metric,
// Team and ImprovementTask. The doc comments on every field are the user
// documentation shown by `kubectl explain`.
//
// +kubebuilder:object:generate=true
// +groupName=cxloop.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every cxloop kind.
	GroupVersion = schema.GroupVersion{Group: "cxloop.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the cxloop kinds with a runtime scheme. It is
	// apimachinery's, so importing the types pulls in no controller-runtime.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the cxloop kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// knownTypes are the kinds each *_types.go file registers in its init.
var knownTypes []runtime.Object

// register adds kinds to the scheme this package builds.
func register(objs ...runtime.Object) { knownTypes = append(knownTypes, objs...) }

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, knownTypes...)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
