package kubelet

import (
	"context"
	"fmt"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
)

// AnnotationNeedsMemory, in a template's metadata.annotations (Argo puts
// them on the pod), is the memory the step needs: PlayByMemory OOMKills a
// main container whose limit is below it.
const AnnotationNeedsMemory = "test.argo-oom-remediator.io/needs-memory"

// PlayByMemory plays every workflow pod of ns until ctx ends, as a node
// whose kernel kills what outgrows its limit: each pod starts, its executor
// creates the task result, and once the controller shows the node Running,
// main is OOMKilled with wait killed too (the task result never completes:
// the node is stuck on Argo v3.5) when its memory limit is below
// AnnotationNeedsMemory, else the executor finalizes and the pod succeeds.
// A pod whose play failed is sent on the returned channel's error.
func (k Kubelet) PlayByMemory(ctx context.Context, ns string) <-chan error {
	errs := make(chan error, 16)
	played := map[types.UID]bool{}
	go func() {
		_ = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			pods, err := k.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: common.LabelKeyWorkflow})
			if err != nil {
				return false, nil // the next poll retries
			}
			for i := range pods.Items {
				p := pods.Items[i]
				if played[p.UID] || p.Annotations[common.AnnotationKeyNodeID] == "" {
					continue
				}
				played[p.UID] = true
				go func() {
					if err := k.playByMemory(ctx, &p); err != nil && ctx.Err() == nil {
						errs <- err
					}
				}()
			}
			return false, nil
		})
	}()
	return errs
}

func (k Kubelet) playByMemory(ctx context.Context, p *corev1.Pod) error {
	ns, wfName, nodeID := p.Namespace, p.Labels[common.LabelKeyWorkflow], p.Annotations[common.AnnotationKeyNodeID]
	need, err := resource.ParseQuantity(p.Annotations[AnnotationNeedsMemory])
	if err != nil {
		return fmt.Errorf("pod %s/%s: annotation %s: %w", ns, p.Name, AnnotationNeedsMemory, err)
	}
	var limit resource.Quantity
	for _, c := range p.Spec.Containers {
		if c.Name == common.MainContainerName {
			limit = c.Resources.Limits[corev1.ResourceMemory]
		}
	}
	wf, err := k.Argo.ArgoprojV1alpha1().Workflows(ns).Get(ctx, wfName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("pod %s/%s: reading its workflow: %w", ns, p.Name, err)
	}
	if _, err := k.Start(ctx, ns, p.Name); err != nil {
		return err
	}
	if _, err := k.InitializeOutput(ctx, wf, nodeID); err != nil {
		return err
	}
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		wf, err := k.Argo.ArgoprojV1alpha1().Workflows(ns).Get(ctx, wfName, metav1.GetOptions{})
		return err == nil && wf.Status.Nodes[nodeID].Phase == wfv1.NodeRunning, nil
	}); err != nil {
		return fmt.Errorf("pod %s/%s: node %s never shown Running: %w", ns, p.Name, nodeID, err)
	}
	if limit.Cmp(need) < 0 {
		_, err := k.OOMKill(ctx, ns, p.Name, WaitKilled)
		return err
	}
	if err := k.FinalizeOutput(ctx, ns, nodeID, nil); err != nil {
		return err
	}
	_, err = k.Succeed(ctx, ns, p.Name)
	return err
}
