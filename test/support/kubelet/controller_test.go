package kubelet

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	argofake "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The stand-in used to give up silently, so a test waiting on it failed
// later on an unrelated assertion; it now says what it gave up on.
func TestStandInForController(t *testing.T) {
	wf := fixtures.Workflow("ns", "wf", "uid", "node-1", wfv1.NodeFailed, fixtures.Bool(false), time.Now())
	ctx := context.Background()

	t.Run("task result never completed", func(t *testing.T) {
		k := Kubelet{Argo: argofake.NewSimpleClientset(wf.DeepCopy(), fixtures.TaskResult(wf, "node-1", false))}
		err := k.StandInForController(ctx, "ns", "wf", "node-1", 50*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "task result ns/node-1 never completed") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("workflow gone", func(t *testing.T) {
		k := Kubelet{Argo: argofake.NewSimpleClientset(fixtures.TaskResult(wf, "node-1", true))}
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		err := k.StandInForController(cctx, "ns", "wf", "node-1", time.Second)
		if err == nil || !strings.Contains(err.Error(), "ending workflow ns/wf") || !strings.Contains(err.Error(), "not found") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ends the workflow", func(t *testing.T) {
		k := Kubelet{Argo: argofake.NewSimpleClientset(wf.DeepCopy(), fixtures.TaskResult(wf, "node-1", true))}
		if err := k.StandInForController(ctx, "ns", "wf", "node-1", time.Second); err != nil {
			t.Fatal(err)
		}
		got, err := k.Argo.ArgoprojV1alpha1().Workflows("ns").Get(ctx, "wf", metav1.GetOptions{})
		if err != nil || got.Status.Phase != wfv1.WorkflowFailed || !got.Status.TaskResultsCompletionStatus["node-1"] {
			t.Fatalf("workflow %+v, %v", got.Status, err)
		}
	})
}
