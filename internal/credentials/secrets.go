// Package credentials reads what cxloop may read of a cluster's Secrets
// and ConfigMaps: only Secrets that opt in with the cxloop.dev/secret
// label, from the object's own namespace, their data fetched on demand
// and once per version. It is Kubernetes plumbing for the reconcilers
// and must hold no decision about customer experience.
package credentials

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// ErrNotFound marks a credential Secret that does not exist in the
// object's namespace.
var ErrNotFound = errors.New("secret not found")

// notOptedIn is the error for a Secret cxloop may not read, whether it
// is missing or lacks the opt-in label: the two look alike, so the message
// names both.
func notOptedIn(ns, name string) error {
	return fmt.Errorf("secret %s/%s: %w, or not labelled %s=true (cxloop reads only Secrets that opt in)",
		ns, name, ErrNotFound, cxv1.SecretLabel)
}

// optedIn reports whether a Secret carries the opt-in label.
func optedIn(labels map[string]string) bool { return labels[cxv1.SecretLabel] == "true" }

// readSecretVersion returns the data and resource version of a Secret in
// namespace ns, if it opted in.
func readSecretVersion(ctx context.Context, c client.Reader, ns, name string) (map[string][]byte, string, error) {
	var s corev1.Secret
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, "", notOptedIn(ns, name)
		}
		return nil, "", fmt.Errorf("read secret %s/%s: %w", ns, name, err)
	}
	if !optedIn(s.Labels) {
		return nil, "", notOptedIn(ns, name)
	}
	return s.Data, s.ResourceVersion, nil
}

// OnlyOptedIn restricts the manager's cache of Secrets'
// metadata to Secrets labelled cxv1.SecretLabel=true, so the operator
// has no view of the cluster's other Secrets at all. Every manager that
// runs the reconcilers builds its cache with it.
func OnlyOptedIn(o cache.Options) cache.Options {
	if o.ByObject == nil {
		o.ByObject = map[client.Object]cache.ByObject{}
	}
	o.ByObject[SecretMetadata()] = cache.ByObject{Label: labels.SelectorFromSet(labels.Set{cxv1.SecretLabel: "true"})}
	return o
}

// Store reads credentials without caching the cluster's Secrets: the
// manager watches Secrets' metadata only (names and versions, to follow
// rotations), and reads a Secret's data from the API server only when a
// DataSource or Team names it and its version changed. So the operator
// never holds the data of Secrets it has no use for.
type Store struct {
	// Metadata reads Secrets' metadata, through the manager's metadata
	// cache.
	Metadata client.Reader
	// Direct reads whole Secrets from the API server.
	Direct client.Reader

	mu   sync.Mutex
	data map[types.NamespacedName]versionedSecret
}

type versionedSecret struct {
	version string
	data    map[string][]byte
}

// SecretMetadata is how a Secret's metadata is asked of the cache.
func SecretMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return m
}

// Read returns a Secret's data and version.
func (s *Store) Read(ctx context.Context, ns, name string) (map[string][]byte, string, error) {
	key := types.NamespacedName{Namespace: ns, Name: name}
	meta := SecretMetadata()
	if err := s.Metadata.Get(ctx, key, meta); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, "", notOptedIn(ns, name)
		}
		return nil, "", fmt.Errorf("read secret %s/%s: %w", ns, name, err)
	}
	if !optedIn(meta.Labels) {
		return nil, "", notOptedIn(ns, name)
	}
	s.mu.Lock()
	cached, ok := s.data[key]
	s.mu.Unlock()
	if ok && cached.version == meta.ResourceVersion {
		return cached.data, cached.version, nil
	}
	data, version, err := readSecretVersion(ctx, s.Direct, ns, name)
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	if s.data == nil {
		s.data = map[types.NamespacedName]versionedSecret{}
	}
	s.data[key] = versionedSecret{version: version, data: data}
	s.mu.Unlock()
	return data, version, nil
}

// Reader returns the store as a SecretReader.
func (s *Store) Reader() metricspec.SecretReader { return s.Read }

// ClusterSecrets reads Secrets straight from the API server through c.
func ClusterSecrets(c client.Reader) metricspec.SecretReader {
	return func(ctx context.Context, ns, name string) (map[string][]byte, string, error) {
		return readSecretVersion(ctx, c, ns, name)
	}
}
