package cluster

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// Start starts a control plane for the test and stops it when the test ends.
// It fails the test when the binaries are missing (the message says to run
// `make tools`); it never skips for that. Under `go test -short` (make
// test-unit) it skips the test, as the control plane takes seconds to start.
func Start(t testing.TB) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a local kube-apiserver and etcd; skipped with -short")
	}
	began := time.Now()
	c, err := Launch(context.Background(), Options{})
	if err != nil {
		t.Fatalf("starting local cluster: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping local cluster: %v", err)
		}
	})
	t.Logf("local cluster at %s started in %s (binaries from %s)", c.APIServerURL(), time.Since(began).Round(time.Millisecond), c.AssetsDir)
	return c
}

// NewNamespace creates a namespace with a unique name derived from the test
// name and returns that name. Namespaces are not deleted afterwards: without a
// controller-manager they would stay Terminating forever anyway.
func (c *Cluster) NewNamespace(t testing.TB) string {
	t.Helper()
	name, err := c.CreateNamespace(context.Background(), t.Name())
	if err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return name
}

var notDNSLabel = regexp.MustCompile(`[^a-z0-9-]+`)

// CreateNamespace creates a namespace named after prefix (lower-cased,
// shortened, made a valid DNS label) plus a random suffix, and returns its name.
func (c *Cluster) CreateNamespace(ctx context.Context, prefix string) (string, error) {
	prefix = strings.Trim(notDNSLabel.ReplaceAllString(strings.ToLower(prefix), "-"), "-")
	if len(prefix) > 40 {
		prefix = strings.TrimRight(prefix[:40], "-")
	}
	if prefix == "" {
		prefix = "test"
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	ns, err := c.Kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return ns.Name, nil
}

// ServiceAccountConfig creates the ServiceAccount namespace/name if it does not
// exist and returns a *rest.Config that authenticates as it, with a one-hour
// token from the TokenRequest API. The account has no permissions until the
// caller binds a Role or ClusterRole to it, so RBAC can be exercised.
func (c *Cluster) ServiceAccountConfig(ctx context.Context, namespace, name string) (*rest.Config, error) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	_, err := c.Kube.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating ServiceAccount %s/%s: %w", namespace, name, err)
	}
	expiry := int64(time.Hour / time.Second)
	tr, err := c.Kube.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}},
		metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("requesting token for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	cfg := rest.AnonymousClientConfig(c.Config) // keeps the server and its CA, drops the admin cert
	cfg.BearerToken = tr.Status.Token
	return cfg, nil
}

// ServiceAccountConfigT is [Cluster.ServiceAccountConfig] for tests: it fails
// the test on error.
func (c *Cluster) ServiceAccountConfigT(t testing.TB, namespace, name string) *rest.Config {
	t.Helper()
	cfg, err := c.ServiceAccountConfig(context.Background(), namespace, name)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
