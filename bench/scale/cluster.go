package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/demo"
)

const (
	wideNamespace = "wide"
	shardLabel    = "cxloop.dev/shard"
)

// cluster is the embedded control plane, its objects, the clock file
// every manager runs on and the manager binary.
type cluster struct {
	env        *envtest.Environment
	c          client.Client
	dataDir    string
	kubeconfig string
	clockFile  string
	managerBin string
	memLimit   string // the managers' GOMEMLIMIT; inherited when empty
	metrics    []client.ObjectKey
}

// startCluster starts the control plane, writes its kubeconfig and a
// clock file at t0 into dataDir, and builds the manager.
func startCluster(ctx context.Context, assets, dataDir string) (*cluster, error) {
	bin, err := buildManager(ctx, dataDir)
	if err != nil {
		return nil, err
	}
	env, cfg, err := demo.StartControlPlane(assets)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 500, 1000
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(cxv1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	cp := &cluster{env: env, c: c, dataDir: dataDir, managerBin: bin,
		kubeconfig: filepath.Join(dataDir, "kubeconfig"), clockFile: filepath.Join(dataDir, "now")}
	if err := writeKubeconfig(cfg, cp.kubeconfig); err == nil {
		err = cp.setClock(t0)
	}
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	return cp, nil
}

// setClock moves every manager's clock to t.
func (cp *cluster) setClock(t time.Time) error { return clock.WriteFile(cp.clockFile, t) }

func writeKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["scale"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["scale"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["scale"] = &clientcmdapi.Context{Cluster: "scale", AuthInfo: "scale"}
	kc.CurrentContext = "scale"
	return clientcmd.WriteToFile(*kc, path)
}

func (cp *cluster) stop() { _ = cp.env.Stop() }

// apply creates the namespaces, each with the warehouse and a team, and
// the Metrics spread over them.
func (cp *cluster) apply(ctx context.Context, c scaleConfig, w warehouse) error {
	namespaces := make([]string, c.namespaces)
	for i := range namespaces {
		namespaces[i] = fmt.Sprintf("ns-%02d", i)
	}
	if c.wide > 0 {
		namespaces = append(namespaces, wideNamespace)
	}
	for _, ns := range namespaces {
		objs := []client.Object{
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
			&cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "warehouse"},
				Spec: cxv1.DataSourceSpec{Type: cxv1.DataSourceSQLite, SQLite: &cxv1.SQLiteSource{Path: "scale.db"}}},
			&cxv1.Team{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "success"}},
		}
		for _, o := range objs {
			if err := cp.c.Create(ctx, o); err != nil {
				return fmt.Errorf("create %s in %s: %w", o.GetObjectKind().GroupVersionKind().Kind, ns, err)
			}
		}
	}
	create := func(ns, name, filter, improvement string) error {
		m := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		spec := fmt.Sprintf(`{"owner":{"team":"success"},"source":{"name":"warehouse"},"formula":"nps",
			"query":{"table":"responses","columns":{"value":"score","time":"answered_at"},
			"filters":[{"column":"metric","operator":"Equals","values":[%q]}]},
			"window":"720h","interval":"24h","segmentBy":["account"],
			"objective":{"direction":"AtLeast","target":20,"minShift":10,"minSamples":20}%s}`, filter, improvement)
		if err := json.Unmarshal([]byte(spec), &m.Spec); err != nil {
			return err
		}
		cp.metrics = append(cp.metrics, client.ObjectKeyFromObject(m))
		return cp.c.Create(ctx, m)
	}
	for i := 0; i < c.metrics; i++ {
		if err := create(namespaces[i%c.namespaces], metricName(i), metricName(i), ""); err != nil {
			return fmt.Errorf("create Metric %s: %w", metricName(i), err)
		}
	}
	if c.wide > 0 {
		// Room for a task in every segment of its drop.
		return create(wideNamespace, "wide", "wide", fmt.Sprintf(`,"improvement":{"maxOpenTasks":%d}`, 100))
	}
	return nil
}

func (cp *cluster) statusBytes(ctx context.Context, ns, name string) (int, error) {
	var m cxv1.Metric
	if err := cp.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &m); err != nil {
		return 0, err
	}
	b, err := json.Marshal(m.Status)
	return len(b), err
}

// labelShards puts the even namespaces in shard a; the others, and the
// wide Metric's, carry no shard label.
func (cp *cluster) labelShards(ctx context.Context, namespaces int) error {
	for i := 0; i < namespaces; i += 2 {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ns-%02d", i)}}
		p := fmt.Appendf(nil, `{"metadata":{"labels":{%q:"a"}}}`, shardLabel)
		if err := cp.c.Patch(ctx, ns, client.RawPatch("application/merge-patch+json", p)); err != nil {
			return err
		}
	}
	return nil
}
