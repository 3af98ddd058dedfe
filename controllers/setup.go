package controllers

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
)

// SetupAll registers every cxloop reconciler with the manager.
func SetupAll(mgr ctrl.Manager) error {
	c, s := mgr.GetClient(), mgr.GetScheme()
	setups := []struct {
		name  string
		setup func(ctrl.Manager) error
	}{
		{"datasource", (&DataSourceReconciler{Client: c, Scheme: s}).SetupWithManager},
		{"metric", (&MetricReconciler{Client: c, Scheme: s}).SetupWithManager},
		{"team", (&TeamReconciler{Client: c, Scheme: s}).SetupWithManager},
		{"improvementtask", (&ImprovementTaskReconciler{Client: c, Scheme: s}).SetupWithManager},
	}
	for _, st := range setups {
		if err := st.setup(mgr); err != nil {
			return fmt.Errorf("set up %s controller: %w", st.name, err)
		}
	}
	return nil
}
