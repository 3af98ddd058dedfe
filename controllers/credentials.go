package controllers

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// errSecretNotFound marks a credential Secret that does not exist in the
// object's namespace.
var errSecretNotFound = errors.New("secret not found")

// readSecretVersion returns the data and resource version of a Secret in
// namespace ns.
func readSecretVersion(ctx context.Context, c client.Reader, ns, name string) (map[string][]byte, string, error) {
	var s corev1.Secret
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, "", fmt.Errorf("secret %s/%s: %w", ns, name, errSecretNotFound)
		}
		return nil, "", fmt.Errorf("read secret %s/%s: %w", ns, name, err)
	}
	return s.Data, s.ResourceVersion, nil
}
