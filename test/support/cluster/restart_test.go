package cluster_test

import (
	"context"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
)

// TestRestart stops and starts kube-apiserver, then etcd, and checks that
// what was there before is still there and that clients made before the
// restart (admin certificate, ServiceAccount token) still work unchanged.
func TestRestart(t *testing.T) {
	c := cluster.Start(t)
	ctx := context.Background()
	ns := c.NewNamespace(t)
	url := c.APIServerURL()
	sa := kubernetes.NewForConfigOrDie(c.ServiceAccountConfigT(t, ns, "restart"))
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "before"}, Data: map[string]string{"k": "v"}}
	if _, err := c.Kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := c.Kube.CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	stillWorks := func(t *testing.T) {
		t.Helper()
		if got := c.APIServerURL(); got != url {
			t.Errorf("API server URL changed from %s to %s", url, got)
		}
		got, err := c.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "before", metav1.GetOptions{})
		if err != nil || got.Data["k"] != "v" {
			t.Fatalf("config map written before the restart: %v, %v", got, err)
		}
		// The token was signed before the restart: the signing key survived.
		review, err := sa.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("ServiceAccount token from before the restart: %v", err)
		}
		if want := "system:serviceaccount:" + ns + ":restart"; review.Status.UserInfo.Username != want {
			t.Errorf("token authenticates as %q, want %q", review.Status.UserInfo.Username, want)
		}
	}

	t.Run("APIServer", func(t *testing.T) {
		began := time.Now()
		if err := c.StopAPIServer(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "before", metav1.GetOptions{}); err == nil {
			t.Fatal("the API server answered while stopped")
		}
		if err := c.StartAPIServer(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("kube-apiserver down and ready again in %s", time.Since(began).Round(time.Millisecond))
		// A watch open across the stop has ended.
		for range w.ResultChan() {
		}
		stillWorks(t)
	})

	t.Run("Etcd", func(t *testing.T) {
		began := time.Now()
		if err := c.StopEtcd(); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if _, err := c.Kube.CoreV1().ConfigMaps(ns).List(short, metav1.ListOptions{}); err == nil {
			t.Fatal("a consistent list succeeded with etcd stopped")
		}
		if err := c.StartEtcd(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("etcd down and kube-apiserver ready again in %s", time.Since(began).Round(time.Millisecond))
		stillWorks(t)
		// Writes work again too.
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after"}}
		if _, err := c.Kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	})
}
