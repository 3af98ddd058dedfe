package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// maxCompressedPerPlatform is the most one platform's image may weigh
// compressed: `make image` packs two, and the whole archive must stay
// under 60 MB.
const maxCompressedPerPlatform = 30 << 20

// compressedSize is the archive's size once gzipped, as a registry or a
// release asset would carry it.
func compressedSize(t *testing.T, archive string) int64 {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n countingWriter
	zw := gzip.NewWriter(&n)
	if _, err := io.Copy(zw, f); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return int64(n)
}

type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}

// runsAgainstAControlPlane runs the manager binary taken out of the image
// against a real kube-apiserver and etcd with cxloop's CRDs, as its
// container would run: it turns ready and reconciles a Team.
func runsAgainstAControlPlane(t *testing.T, manager string) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`")
	}
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	scheme := runtime.NewScheme()
	if err := cxv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	probes := freeAddress(t)
	var out bytes.Buffer
	cmd := exec.Command(manager, "--leader-elect=false", "--metrics-bind-address=0", "--health-probe-bind-address="+probes)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("the manager's output:\n%s", out.String())
		}
	}()

	ctx := context.Background()
	team := &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "support", Namespace: "default"}}
	if err := c.Create(ctx, team); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for ready, reconciled := false, false; !ready || !reconciled; time.Sleep(200 * time.Millisecond) {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the manager exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: readyz answered %v, the Team reconciled %v", ready, reconciled)
		}
		if resp, err := http.Get(fmt.Sprintf("http://%s/readyz", probes)); err == nil {
			ready = resp.StatusCode == http.StatusOK
			resp.Body.Close()
		}
		var got cxv1.Team
		if err := c.Get(ctx, client.ObjectKeyFromObject(team), &got); err == nil {
			reconciled = meta.FindStatusCondition(got.Status.Conditions, "Ready") != nil
		}
	}
}

// freeAddress is a loopback address nothing listens on.
func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
