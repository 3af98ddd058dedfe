package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// The metrics endpoint, configured as the manager starts it, serves a
// scrape only to a caller the API server authenticates and authorizes for
// GET /metrics: nobody without a token, not a ServiceAccount without the
// role, and the ServiceAccount bound to the shipped cxloop-metrics-reader
// ClusterRole.
func TestMetricsEndpointServesOnlyAuthorizedScrapers(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`")
	}
	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()

	addr := freeAddress(t)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Metrics: metricsServer(addr, true), HealthProbeBindAddress: "0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = mgr.Start(ctx) }()

	kube := kubernetes.NewForConfigOrDie(cfg)
	ns, sa := "default", "scraper"
	if _, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token := tok.Status.Token

	scrape := func(bearer string) (int, string) {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			// The manager's certificate is self-signed; the check here is
			// authentication, not the serving certificate.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/metrics", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	waitFor := func(what string, want int, bearer string) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, body := scrape(bearer)
			if code == want {
				return body
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: status %d (%.200s), want %d", what, code, body, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFor("no token", http.StatusUnauthorized, "")
	waitFor("a ServiceAccount without the role", http.StatusForbidden, token)

	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", "metrics_reader_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(raw, &role); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().ClusterRoles().Create(ctx, &role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "scraper-reads-metrics"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}}}
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	body := waitFor("the bound ServiceAccount", http.StatusOK, token)
	if !strings.Contains(body, "# HELP") {
		t.Fatalf("the scrape is not Prometheus text: %.200s", body)
	}
}

func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprintf("127.0.0.1:%d", l.Addr().(*net.TCPAddr).Port)
}
