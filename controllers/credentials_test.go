package controllers

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/credentials"
)

// countingReader counts the whole Secrets read from the API server.
type countingReader struct {
	client.Reader
	gets atomic.Int32
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, o client.Object, opts ...client.GetOption) error {
	c.gets.Add(1)
	return c.Reader.Get(ctx, key, o, opts...)
}

// A Secret's data is read from the API server once per version: repeated
// reads are served from the store, a rotation is read anew, and a missing
// Secret says so.
func TestSecretDataIsReadOncePerVersion(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "warehouse", Namespace: ns, Labels: map[string]string{cxv1.SecretLabel: "true"}},
		Data: map[string][]byte{"password": []byte("first")}}
	if err := k8sClient.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	direct := &countingReader{Reader: k8sClient}
	store := &credentials.Store{Metadata: k8sClient, Direct: direct}
	for i := 0; i < 3; i++ {
		data, _, err := store.Read(ctx, ns, "warehouse")
		if err != nil || string(data["password"]) != "first" {
			t.Fatalf("read %d: %q, %v", i, data["password"], err)
		}
	}
	if direct.gets.Load() != 1 {
		t.Fatalf("the data was read %d times for one version, want 1", direct.gets.Load())
	}
	patch := client.MergeFrom(secret.DeepCopy())
	secret.Data["password"] = []byte("rotated")
	if err := k8sClient.Patch(ctx, secret, patch); err != nil {
		t.Fatal(err)
	}
	data, _, err := store.Read(ctx, ns, "warehouse")
	if err != nil || string(data["password"]) != "rotated" || direct.gets.Load() != 2 {
		t.Fatalf("after rotation: %q, %v, %d reads", data["password"], err, direct.gets.Load())
	}
	if _, _, err := store.Read(ctx, ns, "missing"); !errors.Is(err, credentials.ErrNotFound) {
		t.Fatalf("missing Secret: %v", err)
	}
}

// Secrets are opt-in: one without the cxloop.dev/secret label, such as
// another application's database password in the same namespace, is not
// read by the store, nor seen through the manager's cache, nor usable by a
// DataSource, which says what to do.
func TestSecretsWithoutTheOptInLabelAreNeverRead(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	db := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db-creds", Namespace: ns},
		Data: map[string][]byte{"password": []byte("hunter2-app-db")}}
	if err := k8sClient.Create(ctx, db); err != nil {
		t.Fatal(err)
	}
	direct := &countingReader{Reader: k8sClient}
	store := &credentials.Store{Metadata: k8sClient, Direct: direct}
	if _, _, err := store.Read(ctx, ns, "db-creds"); !errors.Is(err, credentials.ErrNotFound) || !strings.Contains(err.Error(), cxv1.SecretLabel) {
		t.Fatalf("an unlabelled Secret was read: %v", err)
	}
	if direct.gets.Load() != 0 {
		t.Fatalf("the store fetched an unlabelled Secret's data %d times", direct.gets.Load())
	}
	if _, _, err := credentials.ClusterSecrets(k8sClient)(ctx, ns, "db-creds"); !errors.Is(err, credentials.ErrNotFound) {
		t.Fatalf("read directly, an unlabelled Secret was returned: %v", err)
	}
	// The manager's cache holds no metadata of it at all.
	if err := mgrClient.Get(ctx, client.ObjectKeyFromObject(db), credentials.SecretMetadata()); !apierrors.IsNotFound(err) {
		t.Fatalf("the manager's cache sees an unlabelled Secret: %v", err)
	}
	ds := &cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "warehouse", Namespace: ns}, Spec: cxv1.DataSourceSpec{
		Type: cxv1.DataSourcePostgres, SecretRef: &cxv1.LocalObjectReference{Name: "db-creds"},
		Postgres: &cxv1.PostgresSource{Host: "db.example.com", Database: "cx", SSLMode: "disable"}}}
	if err := k8sClient.Create(ctx, ds); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the DataSource refuses the Secret", func() (bool, string) {
		var got cxv1.DataSource
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(ds), &got); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(got.Status.Conditions, cxv1.ConditionReady)
		if c == nil {
			return false, "no Ready condition"
		}
		if strings.Contains(c.Message, "hunter2") {
			t.Fatalf("the Secret's value reached status: %s", c.Message)
		}
		return c.Status == metav1.ConditionFalse && c.Reason == "SecretNotFound" && strings.Contains(c.Message, cxv1.SecretLabel), c.Reason + ": " + c.Message
	})
}
