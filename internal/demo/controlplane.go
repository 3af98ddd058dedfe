package demo

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/cxloop/cxloop/config/crd"
)

// StartControlPlane starts kube-apiserver and etcd from assets and installs
// the cxloop CRDs.
func StartControlPlane(assets string) (*envtest.Environment, *rest.Config, error) {
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return nil, nil, fmt.Errorf("%s not found in %s: run `make envtest-assets` first", bin, assets)
		}
	}
	defs, err := crd.Definitions()
	if err != nil {
		return nil, nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDInstallOptions:     envtest.CRDInstallOptions{CRDs: defs},
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, fmt.Errorf("start the control plane: %w", err)
	}
	return env, cfg, nil
}

// writeKubeconfig writes a kubeconfig for cfg, so the user can explore the
// demo with kubectl and kubectl cx.
func writeKubeconfig(cfg *rest.Config, path, namespace string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["cxloop-demo"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["cxloop-demo"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken,
	}
	kc.Contexts["cxloop-demo"] = &clientcmdapi.Context{Cluster: "cxloop-demo", AuthInfo: "cxloop-demo", Namespace: namespace}
	kc.CurrentContext = "cxloop-demo"
	return clientcmd.WriteToFile(*kc, path)
}
