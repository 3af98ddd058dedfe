package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/demodata"
)

// The package starts its own control plane, so its managers never share
// one with the controllers suite; its kube-apiserver and etcd are found
// through KUBEBUILDER_ASSETS, as `make envtest-assets` prints.
var (
	cfg        *rest.Config
	k8sClient  client.Client
	testScheme = runtime.NewScheme()
	// dataRoot holds the demo warehouse; SQLite DataSources resolve
	// their paths under it.
	dataRoot string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	utilruntime.Must(clientgoscheme.AddToScheme(testScheme))
	utilruntime.Must(cxv1.AddToScheme(testScheme))
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run `make envtest-assets` and point KUBEBUILDER_ASSETS at the directory it prints")
		return 1
	}
	var err error
	dataRoot, err = os.MkdirTemp("", "cxloop-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "data root: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dataRoot)
	sc := demodata.DefaultScript()
	sc.Scale = 0.5
	if _, err := demodata.Generate(filepath.Join(dataRoot, "warehouse.db"), sc); err != nil {
		fmt.Fprintf(os.Stderr, "generate the demo warehouse: %v\n", err)
		return 1
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err = env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start the control plane: %v\n", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop the control plane: %v\n", err)
		}
	}()
	k8sClient, err = client.New(cfg, client.Options{Scheme: testScheme})
	if err != nil {
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
		return 1
	}
	return m.Run()
}
