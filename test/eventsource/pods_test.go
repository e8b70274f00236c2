package eventsource

import (
	"context"
	"fmt"
	"testing"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Where the fixtures and manifests are, from this package's directory.
const (
	repoRoot        = "../.."
	workflowPodFile = "../events/testdata/pods/oom-main/01-running.json"
	otherPodFile    = "../events/testdata/pods/not-a-workflow-pod/01-running.json"
	// argo-events' resource EventSource as shipped before the pod watcher.
	eventSourceFile = "testdata/workflow-pods-resource.yaml"
	// The pod watcher's Deployment.
	watcherFile = repoRoot + "/manifests/base/deployment-pods.yaml"
)

// sentinelName is the workflow pod created first, alone in a namespace
// whose name sorts after the others: the informer queues the listed pods
// in the list's (key) order and queues a watch event of a pod still queued
// with that pod, so only the last listed pod's UPDATE tells that every pod
// is cached.
const sentinelName = "sentinel"

// otherPerWorkflowPod: one non-workflow pod for every five workflow pods.
const otherPerWorkflowPod = 5

// createNamespaces creates n namespaces for the pods, and the sentinel's
// namespace with the sentinel pod; it returns both.
func createNamespaces(ctx context.Context, tb testing.TB, c *cluster.Cluster, n int) (nss []string, sentinelNS string) {
	tb.Helper()
	for range n {
		ns, err := c.CreateNamespace(ctx, "pods")
		if err != nil {
			tb.Fatal(err)
		}
		nss = append(nss, ns)
	}
	sentinelNS, err := c.CreateNamespace(ctx, "zz-sentinel")
	if err != nil {
		tb.Fatal(err)
	}
	if err := createPod(ctx, c, support.ReadPod(tb, workflowPodFile), sentinelNS, sentinelName); err != nil {
		tb.Fatal(err)
	}
	return nss, sentinelNS
}

// createPods creates the workflow pods numbered from to to-1, spread over
// nss, and one non-workflow pod per five of them, each as the captured
// fixture with its status.
func createPods(ctx context.Context, tb testing.TB, c *cluster.Cluster, nss []string, from, to int) {
	tb.Helper()
	wfPod, other := support.ReadPod(tb, workflowPodFile), support.ReadPod(tb, otherPodFile)
	var g errgroup.Group
	g.SetLimit(32)
	for i := from; i < to; i++ {
		g.Go(func() error { return createPod(ctx, c, wfPod, nss[i%len(nss)], fmt.Sprintf("wf-%06d", i)) })
		if i%otherPerWorkflowPod == 0 {
			g.Go(func() error { return createPod(ctx, c, other, nss[i%len(nss)], fmt.Sprintf("app-%06d", i)) })
		}
	}
	if err := g.Wait(); err != nil {
		tb.Fatal(err)
	}
}

// createPod creates a copy of tmpl named name in ns, then writes its status
// as the kubelet would.
func createPod(ctx context.Context, c *cluster.Cluster, tmpl *corev1.Pod, ns, name string) error {
	p := tmpl.DeepCopy()
	p.Name, p.Namespace = name, ns
	created, err := c.Kube.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating pod %s/%s: %w", ns, name, err)
	}
	created.Status = tmpl.Status
	if _, err := c.Kube.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("writing the status of pod %s/%s: %w", ns, name, err)
	}
	return nil
}
