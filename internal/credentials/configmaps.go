package credentials

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/source"
)

// DirectConfigMaps reads ConfigMaps straight from the API server (no cache,
// so the operator keeps no copy of every ConfigMap in the cluster and
// needs only get on them).
func DirectConfigMaps(c client.Reader) metricspec.ConfigMapReader {
	return func(ctx context.Context, ns, name, key string) ([]byte, error) {
		var cm corev1.ConfigMap
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &cm); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("%w: configmap %s/%s not found", source.ErrUnreachable, ns, name)
			}
			return nil, fmt.Errorf("%w: read configmap %s/%s: %v", source.ErrUnreachable, ns, name, err)
		}
		if v, ok := cm.Data[key]; ok {
			return []byte(v), nil
		}
		if v, ok := cm.BinaryData[key]; ok {
			return v, nil
		}
		return nil, fmt.Errorf("%w: configmap %s/%s has no key %q", source.ErrUnreachable, ns, name, key)
	}
}
