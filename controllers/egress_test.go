package controllers

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// testEgressNetworks is the allowance the suite's manager runs with: the
// tests' servers (httptest, and PostgreSQL under hack/with-services.sh)
// listen on 127.0.0.1, which cxloop refuses otherwise. Other loopback
// addresses, such as 127.0.0.2, stay refused, so tests can show refusals.
var testEgressNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

// refusedServer is a test server on 127.0.0.2, a loopback address outside
// the suite's allowance.
func refusedServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.2: %v", err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// Channels reach only what the manager allows: a webhook to a loopback
// address outside the allowance or to the cloud metadata address, and a
// GitHub channel whose API host was not allowed with --allow-egress-host,
// fail their deliveries with a message naming the flag, and no request
// reaches either server.
func TestChannelsOutsideTheEgressAllowanceSendNothing(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	var hits atomic.Int32
	count := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	hook := refusedServer(t, count)
	api := httptest.NewServer(count) // 127.0.0.1: an allowed network, not an allowed host
	defer api.Close()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "github", Namespace: ns, Labels: map[string]string{cxv1.SecretLabel: "true"}},
		Data: map[string][]byte{"token": []byte("ghp-s3cret")}}
	team := &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "customer-success", Namespace: ns}, Spec: cxv1.TeamSpec{Channels: []cxv1.DeliveryChannel{
		{Name: "loopback", Type: cxv1.ChannelWebhook, Webhook: &cxv1.WebhookChannel{URL: hook.URL + "/cx"}},
		{Name: "metadata", Type: cxv1.ChannelWebhook, Webhook: &cxv1.WebhookChannel{URL: "http://169.254.169.254/latest/meta-data/"}},
		{Name: "issues", Type: cxv1.ChannelGitHub, GitHub: &cxv1.GitHubChannel{Repository: "acme/cx", APIURL: api.URL,
			Token: cxv1.SecretKeyReference{Name: "github", Key: "token"}}},
	}}}
	metric := validMetric(ns, "account-nps")
	for _, o := range []client.Object{secret, team, metric} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	task := newTaskFor(t, ns, metric)
	want := map[string]string{
		"customer-success/loopback": "127.0.0.2 is a loopback, link-local or private address",
		"customer-success/metadata": "169.254.169.254 is a loopback, link-local or private address",
		"customer-success/issues":   "GitHub API host " + strings.TrimPrefix(api.URL, "http://") + " is not allowed",
	}
	flag := map[string]string{"customer-success/loopback": "--allow-egress-network", "customer-success/metadata": "--allow-egress-network",
		"customer-success/issues": "--allow-egress-host 127.0.0.1"}
	var got cxv1.ImprovementTask
	eventually(t, 15*time.Second, "every channel's attempt recorded", func() (bool, string) {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(task), &got); err != nil {
			return false, err.Error()
		}
		tried := map[string]bool{}
		for _, d := range got.Status.Deliveries {
			if d.Tries >= 1 && d.Message != "sending" {
				tried[d.Channel] = true
			}
		}
		return len(tried) == len(want), fmt.Sprintf("%+v", got.Status.Deliveries)
	})
	for _, d := range got.Status.Deliveries {
		if d.Tries == 0 || d.Message == "sending" {
			continue
		}
		if d.Succeeded || !strings.Contains(d.Message, want[d.Channel]) || !strings.Contains(d.Message, flag[d.Channel]) ||
			strings.Contains(d.Message, "s3cret") || strings.Contains(d.Message, "meta-data") {
			t.Errorf("%s: record %+v, want a refusal saying %q and naming %s", d.Channel, d, want[d.Channel], flag[d.Channel])
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("refused channels reached their servers %d times", hits.Load())
	}
}

// A PostgreSQL DataSource on a loopback address outside the manager's
// allowance is refused with AddressNotAllowed before any connection; the
// one on the allowed 127.0.0.1 is measured (TestPostgresSourceWrongPasswordThenFixed).
func TestPostgresDataSourceOutsideTheEgressAllowanceIsRefused(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "warehouse-credentials", Namespace: ns, Labels: map[string]string{cxv1.SecretLabel: "true"}},
		Data: map[string][]byte{"username": []byte("cxloop"), "password": []byte("pw-s3cret")}}
	ds := &cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "warehouse", Namespace: ns}, Spec: cxv1.DataSourceSpec{
		Type: cxv1.DataSourcePostgres, SecretRef: &cxv1.LocalObjectReference{Name: secret.Name},
		Postgres: &cxv1.PostgresSource{Host: "127.0.0.2", Port: 5432, Database: "cx", SSLMode: "disable"}}}
	for _, o := range []client.Object{secret, ds} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	var cur cxv1.DataSource
	eventually(t, 15*time.Second, "DataSource refused", func() (bool, string) {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(ds), &cur); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(cur.Status.Conditions, cxv1.ConditionReady)
		if c == nil {
			return false, "no condition"
		}
		return c.Status == metav1.ConditionFalse && c.Reason == "AddressNotAllowed", c.Reason + ": " + c.Message
	})
	c := meta.FindStatusCondition(cur.Status.Conditions, cxv1.ConditionReady)
	if !strings.Contains(c.Message, "--allow-egress-network") || strings.Contains(c.Message, "s3cret") {
		t.Fatalf("condition message %q", c.Message)
	}
}
