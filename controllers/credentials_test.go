package controllers

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "warehouse", Namespace: ns},
		Data: map[string][]byte{"password": []byte("first")}}
	if err := k8sClient.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	direct := &countingReader{Reader: k8sClient}
	store := &SecretStore{Metadata: k8sClient, Direct: direct}
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
	if _, _, err := store.Read(ctx, ns, "missing"); !errors.Is(err, errSecretNotFound) {
		t.Fatalf("missing Secret: %v", err)
	}
}
