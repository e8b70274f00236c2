package resubmit

import (
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestDecide(t *testing.T) {
	member := func(attempt, limit string) func(*wfv1.Workflow) {
		return func(wf *wfv1.Workflow) {
			wf.Name = "etl-oom-" + attempt
			wf.Labels[LabelChainRoot], wf.Labels[LabelChainAttempt] = "etl", attempt
			wf.Annotations[AnnotationChainRoot], wf.Annotations[AnnotationChainRootUID] = "etl", "uid-etl"
			wf.Spec.Templates[1].Container.Resources.Limits[corev1.ResourceMemory] = resource.MustParse(limit)
		}
	}
	for _, c := range []struct {
		name    string
		change  func(*wfv1.Workflow)
		optOut  bool
		rescued []string
		limits  *Limits
		action  Action
		reason  string // contained in the decision's reason
		next    string // name and limit, when resubmitted
		limit   string
		request string
	}{
		{name: "resubmitted at ×1.5", action: Resubmit, next: "etl-oom-1", limit: "384Mi", request: "192Mi", reason: "256Mi ×1.5"},
		{name: "not opted in", optOut: true, action: None, reason: "not opted in"},
		{name: "still running", change: func(wf *wfv1.Workflow) { wf.Status.Phase = wfv1.WorkflowRunning }, action: None, reason: "still running"},
		{name: "succeeded", change: func(wf *wfv1.Workflow) { wf.Status.Phase = wfv1.WorkflowSucceeded }, action: None, reason: "succeeded"},
		{name: "already handled", change: func(wf *wfv1.Workflow) { wf.Labels[LabelHandled] = "resubmitted" }, action: None, reason: "already handled"},
		{name: "not rescued by the remediator", rescued: []string{}, action: None, reason: "no failed node was rescued"},
		{name: "rescued node not failed", rescued: []string{"etl-2"}, action: None, reason: "no failed node was rescued"},
		{name: "another pod failed too", change: func(wf *wfv1.Workflow) {
			n := wf.Status.Nodes["etl-2"]
			n.Phase = wfv1.NodeError
			wf.Status.Nodes["etl-2"] = n
		}, action: Stop, reason: "2 pods failed"},
		{name: "not OOMKilled", change: func(wf *wfv1.Workflow) {
			n := wf.Status.Nodes["etl-1"]
			n.Message = "pod deleted"
			wf.Status.Nodes["etl-1"] = n
		}, action: Stop, reason: "did not end OOMKilled"},
		{name: "templateRef", change: func(wf *wfv1.Workflow) {
			n := wf.Status.Nodes["etl-1"]
			n.TemplateRef = &wfv1.TemplateRef{Name: "shared", Template: "load", ClusterScope: true}
			wf.Status.Nodes["etl-1"] = n
		}, action: Stop, reason: "ClusterWorkflowTemplate shared"},
		{name: "template podSpecPatch", change: func(wf *wfv1.Workflow) { wf.Spec.Templates[1].PodSpecPatch = `{"containers":[]}` }, action: Stop, reason: "podSpecPatch"},
		{name: "workflow podSpecPatch", change: func(wf *wfv1.Workflow) { wf.Spec.PodSpecPatch = `{"containers":[]}` }, action: Stop, reason: "podSpecPatch"},
		{name: "containerSet", change: func(wf *wfv1.Workflow) {
			wf.Spec.Templates[1].Container, wf.Spec.Templates[1].ContainerSet = nil, &wfv1.ContainerSetTemplate{}
		}, action: Stop, reason: "containerSet"},
		{name: "resource template", change: func(wf *wfv1.Workflow) {
			wf.Spec.Templates[1].Container, wf.Spec.Templates[1].Resource = nil, &wfv1.ResourceTemplate{Action: "create"}
		}, action: Stop, reason: "not a container or script"},
		{name: "script template", change: func(wf *wfv1.Workflow) {
			c := wf.Spec.Templates[1].Container
			wf.Spec.Templates[1].Container, wf.Spec.Templates[1].Script = nil, &wfv1.ScriptTemplate{Container: *c, Source: "x"}
		}, action: Resubmit, next: "etl-oom-1", limit: "384Mi"},
		{name: "no memory limit", change: func(wf *wfv1.Workflow) { wf.Spec.Templates[1].Container.Resources = corev1.ResourceRequirements{} }, action: Stop, reason: "no memory limit"},
		{name: "capped at the maximum", change: member("1", "768Mi"), action: Resubmit, next: "etl-oom-2", limit: "1Gi", reason: "capped at the maximum 1Gi"},
		{name: "at the maximum", change: member("2", "1Gi"), action: Stop, reason: "already had 1Gi, the maximum"},
		{name: "chain at its length", change: member("3", "512Mi"), action: Stop, reason: "maximum of 3 resubmissions"},
		{name: "member resubmitted from the root's name", change: member("1", "384Mi"), action: Resubmit, next: "etl-oom-2", limit: "576Mi"},
		{name: "workflowTemplateRef without stored spec", change: func(wf *wfv1.Workflow) {
			wf.Spec = wfv1.WorkflowSpec{WorkflowTemplateRef: &wfv1.WorkflowTemplateRef{Name: "etl"}}
		}, action: Stop, reason: "not stored"},
		{name: "workflowTemplateRef with stored spec", change: func(wf *wfv1.Workflow) {
			stored := wf.Spec
			wf.Spec, wf.Status.StoredWorkflowSpec = wfv1.WorkflowSpec{WorkflowTemplateRef: &wfv1.WorkflowTemplateRef{Name: "etl"}}, &stored
		}, action: Resubmit, next: "etl-oom-1", limit: "384Mi"},
		{name: "a single attempt allowed", limits: &Limits{MaxMemory: resource.MustParse("1Gi"), MaxAttempts: 1}, change: member("1", "384Mi"),
			action: Stop, reason: "maximum of 1 resubmissions"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wf := failedWorkflow()
			if c.change != nil {
				c.change(wf)
			}
			rescued := []string{"etl-1"}
			if c.rescued != nil {
				rescued = c.rescued
			}
			l := limits
			if c.limits != nil {
				l = *c.limits
			}
			d := Decide(Input{Workflow: wf, OptedIn: !c.optOut, Rescued: rescued, Limits: l})
			if d.Action != c.action || !strings.Contains(d.Reason, c.reason) {
				t.Fatalf("%q (%s), want %q with %q", d.Action, d.Reason, c.action, c.reason)
			}
			if d.Root != "etl" || d.RootUID != "uid-etl" {
				t.Errorf("root %s/%s", d.Root, d.RootUID)
			}
			if c.action != Resubmit {
				return
			}
			if d.Name != c.next || d.NewLimit.String() != c.limit {
				t.Errorf("%s with %s, want %s with %s", d.Name, d.NewLimit.String(), c.next, c.limit)
			}
			if c.request != "" && (d.NewRequest == nil || d.NewRequest.String() != c.request) {
				t.Errorf("request %v, want %s", d.NewRequest, c.request)
			}
			if d.Node != "etl-1" || d.Template != "load" || d.Container != "main" {
				t.Errorf("node %s template %s container %s", d.Node, d.Template, d.Container)
			}
		})
	}
}

func TestName(t *testing.T) {
	if got := Name("etl", 2); got != "etl-oom-2" {
		t.Errorf("Name(etl, 2) = %s", got)
	}
	long := strings.Repeat("a", 50) + "." + strings.Repeat("b", 20)
	a, b := Name(long, 1), Name(long, 2)
	if len(a) > 63 || len(b) > 63 || !strings.HasSuffix(a, "-oom-1") || a[:len(a)-1] != b[:len(b)-1] {
		t.Errorf("long names %q %q", a, b)
	}
	if other := Name(strings.Repeat("a", 50)+"."+strings.Repeat("c", 20), 1); other == a {
		t.Errorf("two roots share %q", a)
	}
	if exact := strings.Repeat("x", 57); Name(exact, 1) != exact+"-oom-1" {
		t.Errorf("a 63-char name was cut: %q", Name(exact, 1))
	}
	if v := labelValue(long); len(v) > 63 || strings.HasSuffix(v, ".") {
		t.Errorf("label value %q", v)
	}
}
