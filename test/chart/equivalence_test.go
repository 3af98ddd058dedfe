package chart

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// grant is one (API group, resource or URL, verb) a rule allows: rules
// compared grant by grant are equal however they are split or ordered.
type grant struct{ group, resource, verb string }

func grants(rules []rbacv1.PolicyRule) []grant {
	var out []grant
	for _, r := range rules {
		for _, v := range r.Verbs {
			for _, u := range r.NonResourceURLs {
				out = append(out, grant{"", "url:" + u, v})
			}
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					if len(r.ResourceNames) > 0 {
						for _, n := range r.ResourceNames {
							out = append(out, grant{g, res + "/" + n, v})
						}
						continue
					}
					out = append(out, grant{g, res, v})
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b grant) int {
		return strings.Compare(a.group+" "+a.resource+" "+a.verb, b.group+" "+b.resource+" "+b.verb)
	})
	return slices.Compact(out)
}

// binding is what a binding grants: its role and its subjects, in order.
type binding struct {
	RoleRef  rbacv1.RoleRef
	Subjects []rbacv1.Subject
}

// rbacOf keys every role's grants and every binding by kind and name.
func rbacOf(t *testing.T, objs []*unstructured.Unstructured) (map[string][]grant, map[string]binding) {
	t.Helper()
	roles, bindings := map[string][]grant{}, map[string]binding{}
	for name, r := range ofKind[rbacv1.ClusterRole](t, objs, "ClusterRole") {
		roles["ClusterRole "+name] = grants(r.Rules)
	}
	for name, r := range ofKind[rbacv1.Role](t, objs, "Role") {
		roles["Role "+name] = grants(r.Rules)
	}
	for name, b := range ofKind[rbacv1.ClusterRoleBinding](t, objs, "ClusterRoleBinding") {
		bindings["ClusterRoleBinding "+name] = binding{b.RoleRef, b.Subjects}
	}
	for name, b := range ofKind[rbacv1.RoleBinding](t, objs, "RoleBinding") {
		bindings["RoleBinding "+name] = binding{b.RoleRef, b.Subjects}
	}
	return roles, bindings
}

// equivalents pairs each kustomize install with the chart's values that
// mean the same.
var equivalents = []struct {
	name      string
	kustomize []string
	helm      []string
}{
	{"default", []string{"default"}, nil},
	{"with the ServiceMonitor", []string{"default", "prometheus"}, []string{"--set", "metrics.serviceMonitor.enabled=true"}},
	{"namespaced", []string{"namespaced"}, []string{"--set", "watchNamespaces={team-a}"}},
}

// The chart grants exactly what the kustomize install with the same
// settings grants: the same roles with the same rules, the same bindings
// of the same subjects.
func TestChartGrantsWhatKustomizeGrants(t *testing.T) {
	for _, eq := range equivalents {
		t.Run(eq.name, func(t *testing.T) {
			wantRoles, wantBindings := rbacOf(t, kustomize(t, eq.kustomize...))
			gotRoles, gotBindings := rbacOf(t, render(t, eq.helm...))
			if len(wantRoles) == 0 || len(wantBindings) == 0 {
				t.Fatal("the kustomize install has no RBAC")
			}
			if !reflect.DeepEqual(gotRoles, wantRoles) {
				t.Errorf("roles differ\nhelm:      %v\nkustomize: %v", gotRoles, wantRoles)
			}
			if !reflect.DeepEqual(gotBindings, wantBindings) {
				t.Errorf("bindings differ\nhelm:      %+v\nkustomize: %+v", gotBindings, wantBindings)
			}
		})
	}
}

// The chart runs the manager as the kustomize install with the same
// settings does: the same image pull, args, security contexts, probes,
// resources, volumes and replicas.
func TestChartRunsTheManagerAsKustomizeDoes(t *testing.T) {
	for _, eq := range equivalents {
		t.Run(eq.name, func(t *testing.T) {
			want := ofKind[appsv1.Deployment](t, kustomize(t, eq.kustomize...), "Deployment")[namespace+"/cxloop-manager"]
			got := ofKind[appsv1.Deployment](t, render(t, eq.helm...), "Deployment")[namespace+"/cxloop-manager"]
			if !reflect.DeepEqual(got.Spec, want.Spec) {
				t.Errorf("the Deployments' specs differ\nhelm:      %s\nkustomize: %s", mustJSON(t, got.Spec), mustJSON(t, want.Spec))
			}
			gc, wc := got.Spec.Template.Spec.Containers, want.Spec.Template.Spec.Containers
			if len(gc) != 1 || len(wc) != 1 || !slices.Equal(gc[0].Args, wc[0].Args) || !reflect.DeepEqual(gc[0].SecurityContext, wc[0].SecurityContext) {
				t.Errorf("the manager's args or security context differ: %v vs %v", gc, wc)
			}
		})
	}
}
