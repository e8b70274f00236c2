package app

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/cetest"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/notify"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/resubmit"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestChainReportSaysWhatWasDone: each kind of resubmit report becomes a
// schema-valid CloudEvent naming the chain, the new workflow and memory.
func TestChainReportSaysWhatWasDone(t *testing.T) {
	ended := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "etl-oom-1", Namespace: "team-a", UID: "u1",
		Annotations: map[string]string{resubmit.AnnotationPrevious: "etl", resubmit.AnnotationMemory: "384Mi", resubmit.AnnotationTemplate: "load"}},
		Status: wfv1.WorkflowStatus{Phase: wfv1.WorkflowFailed, Nodes: wfv1.Nodes{"etl-oom-1": {Message: "OOMKilled"}}}}
	req := resource.MustParse("288Mi")
	resubmitted := resubmit.Decision{Action: resubmit.Resubmit, Root: "etl", Attempt: 2, Name: "etl-oom-2", Node: "etl-oom-1",
		Template: "load", Container: "main", OldLimit: resource.MustParse("384Mi"), NewLimit: resource.MustParse("576Mi"), NewRequest: &req,
		Reason: "384Mi ×1.5, rounded up to a whole 64Mi"}
	succeeded := ended.DeepCopy()
	succeeded.Status.Phase = wfv1.WorkflowSucceeded
	for _, c := range []struct {
		rep   resubmit.Report
		check func(notify.Chain) bool
	}{
		{resubmit.Report{Kind: resubmit.KindResubmitted, Workflow: ended, Decision: resubmitted, Created: true}, func(c notify.Chain) bool {
			return c.Next == "etl-oom-2" && c.Previous == "etl-oom-1" && c.NewMemoryLimit == "576Mi" && c.NewMemoryRequest == "288Mi" &&
				c.MemoryLimit == "384Mi" && c.Attempt == 2 && c.Created
		}},
		{resubmit.Report{Kind: resubmit.KindStopped, Workflow: ended, Decision: resubmit.Decision{Action: resubmit.Stop, Root: "etl", Attempt: 1,
			Node: "etl-oom-1", Reason: "the chain reached its maximum"}}, func(c notify.Chain) bool {
			return c.Next == "" && c.Reason == "the chain reached its maximum" && c.Previous == "etl"
		}},
		{resubmit.Report{Kind: resubmit.KindEnded, Workflow: succeeded, Decision: resubmit.Decision{Root: "etl", Attempt: 1, Reason: "succeeded"}},
			func(c notify.Chain) bool {
				return c.MemoryLimit == "384Mi" && c.Template == "load" && c.Previous == "etl"
			}},
	} {
		ev, err := notify.BuildChain(chainReport(c.rep, 3, "16Gi"), notify.Meta{Cluster: "prod"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := cetest.ValidateEvent(ev.Type(), ev.DataSchema(), ev.Data()); err != nil {
			t.Errorf("%s: %v", c.rep.Kind, err)
		}
		var d notify.Data
		if err := json.Unmarshal(ev.Data(), &d); err != nil {
			t.Fatal(err)
		}
		if d.ChainRoot != "etl" || d.Chain == nil || d.Chain.MaxAttempts != 3 || d.Chain.MaxMemory != "16Gi" || !c.check(*d.Chain) {
			t.Errorf("%s: %s", c.rep.Kind, ev.Data())
		}
	}
}
