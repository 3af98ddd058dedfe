package controllers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/source"
)

// ConfigMapReader returns one key of a ConfigMap in a namespace.
type ConfigMapReader func(ctx context.Context, namespace, name, key string) ([]byte, error)

// DirectConfigMaps reads ConfigMaps straight from the API server (no cache,
// so the operator keeps no copy of every ConfigMap in the cluster and
// needs only get on them).
func DirectConfigMaps(c client.Reader) ConfigMapReader {
	return func(ctx context.Context, ns, name, key string) ([]byte, error) {
		var cm corev1.ConfigMap
		if err := c.Get(ctx, clientKey(ns, name), &cm); err != nil {
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

// openHTTPJSON maps an httpjson DataSource to the driver; the token and the
// headers' values come from the DataSource's Secret.
func (s *Sources) openHTTPJSON(ds *cxv1.DataSource, secret map[string][]byte, timeout time.Duration, maxConns int) (source.Source, error) {
	h := ds.Spec.HTTPJSON
	cfg := source.HTTPJSONConfig{URL: h.URL, RecordsPath: h.RecordsPath, Token: string(secret["token"]),
		MaxResponseBytes: h.MaxResponseBytes, MaxPages: int(h.MaxPages), Timeout: timeout, MaxConnections: maxConns,
		Network: s.Network}
	for header, key := range h.HeadersFromSecret {
		v, ok := secret[key]
		if !ok {
			return nil, &CheckError{Reason: "SecretNotFound", Err: fmt.Errorf("header %s: the Secret has no key %q", header, key)}
		}
		if cfg.Headers == nil {
			cfg.Headers = map[string]string{}
		}
		cfg.Headers[header] = strings.TrimSpace(string(v))
	}
	if p := h.Pagination; p != nil {
		cfg.Pagination = source.Pagination(p.Type)
		cfg.NextLinkPath, cfg.CursorPath, cfg.CursorParam = p.NextLinkPath, p.CursorPath, p.CursorParam
	}
	return source.OpenHTTPJSON(cfg)
}

// openCSV maps a csv DataSource to the driver: a file under the data
// roots, or a key of a ConfigMap in the DataSource's own namespace, read
// afresh at each query.
func (s *Sources) openCSV(ds *cxv1.DataSource, timeout time.Duration) (source.Source, error) {
	c := ds.Spec.CSV
	cfg := source.CSVConfig{Path: c.Path, Roots: s.Roots, Timeout: timeout}
	if c.Delimiter != "" {
		r, _ := utf8.DecodeRuneInString(c.Delimiter)
		cfg.Delimiter = r
	}
	if ref := c.ConfigMapRef; ref != nil {
		if s.ConfigMaps == nil {
			return nil, &CheckError{Reason: "Unsupported", Err: fmt.Errorf("this operator reads no ConfigMaps")}
		}
		read, ns := s.ConfigMaps, ds.Namespace
		cfg.Name = fmt.Sprintf("configmap %s key %s", ref.Name, ref.Key)
		cfg.Open = func(ctx context.Context) (io.ReadCloser, error) {
			b, err := read(ctx, ns, ref.Name, ref.Key)
			if err != nil {
				return nil, err
			}
			return io.NopCloser(bytes.NewReader(b)), nil
		}
	}
	return source.OpenCSV(cfg)
}
