package sweep

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/app"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/config"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/argo"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestSweepRescuesStuckWorkflowsUnderV358 gets workflows stuck for real under
// the v3.5.8 controller (OOMKilled, wait killed; half of the pods then
// garbage-collected), runs the sweep with no event at all, and checks every
// stuck workflow reaches Failed while the healthy ones succeed untouched.
func TestSweepRescuesStuckWorkflowsUnderV358(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local cluster and a built controller")
	}
	const stuck, healthy = 20, 10
	c := cluster.Start(t)
	ns := c.NewNamespace(t)
	ctx := context.Background()
	ctl, err := argo.Start(ctx, c, "v3.5.8", ns, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Stop()
	k := kubelet.Kubelet{Kube: c.Kube, Argo: c.Argo}

	var g errgroup.Group
	g.SetLimit(10)
	for i := range stuck + healthy {
		g.Go(func() error {
			return playWorkflow(ctx, c, k, ns, fmt.Sprintf("wf-%02d", i), i < stuck, i%2 == 0)
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("%v\ncontroller log:\n%s", err, ctl.Tail(20))
	}
	// The healthy workflows succeed; every stuck one is held Running by its
	// false entry.
	var running int
	support.Eventually(t, "the healthy workflows to succeed", 2*time.Minute, func(ctx context.Context) (bool, error) {
		wfs, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		succeeded := 0
		running = 0
		for _, wf := range wfs.Items {
			switch wf.Status.Phase {
			case wfv1.WorkflowSucceeded:
				succeeded++
			case wfv1.WorkflowRunning:
				running++
			}
		}
		return succeeded == healthy, nil
	})
	if running != stuck {
		t.Fatalf("%d workflows Running before the sweep, want the %d stuck ones", running, stuck)
	}

	cfg := sweepConfig(t, ns, map[string]string{"REMEDIATOR_GRACE_PERIOD": "2s", "REMEDIATOR_VERIFY_TIMEOUT": "1m",
		"REMEDIATOR_SWEEP_CONCURRENCY": "10", "REMEDIATOR_SINK_RETRIES": "3"})
	// v3.5.8 deletes a workflow's task results once it completes, so what
	// the sweep wrote is read off a watch from before it, not off the
	// objects after: exactly the stuck workflows' task results are
	// completed by us, no other is written.
	before, err := c.Argo.ArgoprojV1alpha1().WorkflowTaskResults(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	victims := map[string]bool{}
	for _, tr := range before.Items {
		if tr.Labels[common.LabelKeyWorkflow] < fmt.Sprintf("wf-%02d", stuck) {
			victims[tr.Name] = true
		}
	}
	if len(victims) != stuck {
		t.Fatalf("%d task results of stuck workflows before the sweep, want %d", len(victims), stuck)
	}
	writes := watchTaskResults(t, c, ns, before.ResourceVersion)
	began := time.Now()
	// Pods garbage-collected just now are within the grace: sweep until
	// none is left, as the CronJob would every few minutes.
	sweepUntilDone(t, c, ns, cfg)
	t.Logf("%d stuck workflows rescued by the sweep in %s", stuck, time.Since(began).Round(100*time.Millisecond))
	wfs, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, wf := range wfs.Items {
		want := wfv1.WorkflowSucceeded
		if wf.Name < fmt.Sprintf("wf-%02d", stuck) {
			want = wfv1.WorkflowFailed
		}
		if wf.Status.Phase != want {
			t.Errorf("%s: %s, want %s", wf.Name, wf.Status.Phase, want)
		}
	}
	writes.sync(ctx, t, c, ns)
	deleted := writes.check(t, before.Items, victims)
	t.Logf("%d task results of stuck workflows completed by the sweep, %d deleted by the controller since", len(victims), deleted)
}

// playWorkflow submits a one-step workflow and plays its pod: OOMKilled with
// wait killed (and the pod garbage-collected once the node failed when
// deletePod), or a healthy run whose executor finalizes.
func playWorkflow(ctx context.Context, c *cluster.Cluster, k kubelet.Kubelet, ns, name string, oom, deletePod bool) error {
	wf := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: wfv1.WorkflowSpec{Entrypoint: "main", Templates: []wfv1.Template{{Name: "main",
			Container: &corev1.Container{Image: "busybox", Command: []string{"true"}}}}},
	}
	wf, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).Create(ctx, wf, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	var pod *corev1.Pod
	if err := support.Until(ctx, 2*time.Minute, func(ctx context.Context) (bool, error) {
		pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "workflows.argoproj.io/workflow=" + name})
		if err != nil || len(pods.Items) == 0 {
			return false, err
		}
		pod = &pods.Items[0]
		return true, nil
	}); err != nil {
		return fmt.Errorf("%s: no pod: %w", name, err)
	}
	nodeID := pod.Annotations["workflows.argoproj.io/node-id"]
	if _, err := k.Start(ctx, ns, pod.Name); err != nil {
		return err
	}
	if _, err := k.InitializeOutput(ctx, wf, nodeID); err != nil {
		return err
	}
	if err := nodeIs(ctx, c, ns, name, nodeID, func(p wfv1.NodePhase) bool { return p == wfv1.NodeRunning }); err != nil {
		return err
	}
	if !oom {
		if err := k.FinalizeOutput(ctx, ns, nodeID, nil); err != nil {
			return err
		}
		_, err := k.Succeed(ctx, ns, pod.Name)
		return err
	}
	if _, err := k.OOMKill(ctx, ns, pod.Name, kubelet.WaitKilled); err != nil {
		return err
	}
	if err := nodeIs(ctx, c, ns, name, nodeID, wfv1.NodePhase.Completed); err != nil {
		return err
	}
	if deletePod {
		return k.Delete(ctx, ns, pod.Name)
	}
	return nil
}

func nodeIs(ctx context.Context, c *cluster.Cluster, ns, name, nodeID string, ok func(wfv1.NodePhase) bool) error {
	err := support.Until(ctx, 2*time.Minute, func(ctx context.Context) (bool, error) {
		wf, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil && ok(wf.Status.Nodes[nodeID].Phase), err
	})
	if err != nil {
		return fmt.Errorf("%s: node %s never reached the expected phase: %w", name, nodeID, err)
	}
	return nil
}

// sweepUntilDone runs the sweep until every workflow of ns is completed, as
// the CronJob would every few minutes (a pod garbage-collected just now is
// within the grace), and returns how many sweeps it took.
func sweepUntilDone(t *testing.T, c *cluster.Cluster, ns string, cfg config.Config) int {
	t.Helper()
	sweeps := 0
	support.Eventually(t, "the sweeps to fix every stuck workflow", 2*time.Minute, func(ctx context.Context) (bool, error) {
		sweeps++
		d := app.Deps{Kube: c.Kube, Argo: c.Argo, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Identity: "sweep-e2e"}
		if err := app.Run(ctx, cfg, d); err != nil {
			return false, err
		}
		wfs, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, wf := range wfs.Items {
			if !wf.Status.Phase.Completed() {
				return false, nil
			}
		}
		return true, nil
	})
	return sweeps
}
