package argo

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestControllerRunsAWorkflow checks the harness: the v3.5.8 controller
// picks up a workflow and creates its pod; the played kubelet succeeds it
// and the workflow succeeds.
func TestControllerRunsAWorkflow(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local cluster and a built controller")
	}
	c := cluster.Start(t)
	ns := c.NewNamespace(t)
	ctx := context.Background()
	ctl, err := Start(ctx, c, "v3.5.8", ns, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Stop()
	wf := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "hello-", Namespace: ns},
		Spec: wfv1.WorkflowSpec{Entrypoint: "main", Templates: []wfv1.Template{{Name: "main",
			Container: &corev1.Container{Image: "busybox", Command: []string{"true"}}}}},
	}
	wf, err = c.Argo.ArgoprojV1alpha1().Workflows(ns).Create(ctx, wf, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var pod *corev1.Pod
	support.Eventually(t, "the controller to create the pod", 2*time.Minute, func(ctx context.Context) (bool, error) {
		pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(pods.Items) == 0 {
			return false, err
		}
		pod = &pods.Items[0]
		return true, nil
	})
	k := kubelet.Kubelet{Kube: c.Kube, Argo: c.Argo}
	if _, err := k.Start(ctx, ns, pod.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := k.InitializeOutput(ctx, wf, pod.Annotations["workflows.argoproj.io/node-id"]); err != nil {
		t.Fatal(err)
	}
	if err := k.FinalizeOutput(ctx, ns, pod.Annotations["workflows.argoproj.io/node-id"], nil); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Succeed(ctx, ns, pod.Name); err != nil {
		t.Fatal(err)
	}
	support.Eventually(t, "the workflow to succeed", 2*time.Minute, func(ctx context.Context) (bool, error) {
		got, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).Get(ctx, wf.Name, metav1.GetOptions{})
		return err == nil && got.Status.Phase == wfv1.WorkflowSucceeded, err
	})
}

// Versions repeats WORKFLOW_CONTROLLER_VERSIONS of hack/versions.env, which
// decides what `make tools-controllers` builds: the two must not drift.
func TestVersionsAreTheBuiltOnes(t *testing.T) {
	root, err := cluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	vars, err := cluster.Versions(root)
	if err != nil {
		t.Fatal(err)
	}
	if built := strings.Split(vars["WORKFLOW_CONTROLLER_VERSIONS"], ","); !slices.Equal(built, Versions) {
		t.Errorf("argo.Versions = %v, hack/versions.env builds %v", Versions, built)
	}
}
