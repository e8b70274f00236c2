package sweep

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	argofake "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned/fake"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
)

// world builds namespaces of workflows in the states a sweep meets.
type world struct {
	kube, argo []runtime.Object
}

func (w *world) add(ns, name string, phase wfv1.NodePhase, entry *bool, finished time.Time, tr *bool, wait *fixtures.WaitState) {
	node := name + "-1"
	wf := fixtures.Workflow(ns, name, "uid-"+name, node, phase, entry, finished)
	wf.Labels = map[string]string{common.LabelKeyCompleted: "false"}
	w.argo = append(w.argo, wf)
	if tr != nil {
		w.argo = append(w.argo, fixtures.TaskResult(wf, node, *tr))
	}
	if wait != nil {
		w.kube = append(w.kube, fixtures.Pod(wf, node, name+"-pod", "pod-uid-"+name, *wait))
	}
}

func ws(s fixtures.WaitState) *fixtures.WaitState { return &s }

func TestScan(t *testing.T) {
	now := time.Now()
	long, recent := now.Add(-time.Hour), now.Add(-5*time.Second)
	f, tr := fixtures.Bool(false), fixtures.Bool(true)
	w := &world{}
	w.add("a", "gone-long-ago", wfv1.NodeError, f, long, f, nil)                          // complete
	w.add("a", "wait-killed", wfv1.NodeFailed, f, recent, f, ws(fixtures.WaitKilled))     // complete
	w.add("a", "wait-running", wfv1.NodeFailed, f, long, f, ws(fixtures.WaitRunning))     // deferred
	w.add("b", "gone-recently", wfv1.NodeError, f, recent, f, nil)                        // deferred
	w.add("b", "legacy", wfv1.NodeError, f, long, nil, nil)                               // create
	w.add("b", "healthy", wfv1.NodeSucceeded, tr, long, tr, ws(fixtures.WaitDone))        // not a suspect
	w.add("c", "still-running", wfv1.NodeRunning, f, long, f, ws(fixtures.WaitRunning))   // not a suspect
	w.add("d", "no-entry", wfv1.NodeError, nil, long, nil, nil)                           // not a suspect
	done := fixtures.Workflow("a", "done", "uid-done", "done-1", wfv1.NodeError, f, long) // excluded by label
	done.Labels = map[string]string{common.LabelKeyCompleted: "true"}
	done.Status.Phase = wfv1.WorkflowFailed
	w.argo = append(w.argo, done)

	kube, argo := kubefake.NewSimpleClientset(w.kube...), argofake.NewSimpleClientset(w.argo...)
	scan, err := Scanner{Kube: kube, Argo: argo, Grace: 30 * time.Second}.Scan(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]decide.Action{}
	for _, c := range scan.Candidates {
		got[c.Target.Workflow] = c.Decision.Action
	}
	want := map[string]decide.Action{
		"gone-long-ago": decide.Complete, "wait-killed": decide.Complete, "wait-running": decide.Wait,
		"gone-recently": decide.Wait, "legacy": decide.Create,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("decisions\n got %v\nwant %v", got, want)
	}
	if scan.Workflows != 8 || scan.Suspects != 5 || len(scan.Actionable()) != 3 {
		t.Errorf("counts: %d workflows, %d suspects, %d actionable", scan.Workflows, scan.Suspects, len(scan.Actionable()))
	}
	for _, c := range scan.Candidates {
		if c.Target.Workflow == "wait-killed" && (c.Target.PodName != "wait-killed-pod" || c.Target.PodUID != "pod-uid-wait-killed") {
			t.Errorf("pod not carried: %+v", c.Target)
		}
	}

	// Bulk reads only: one list of workflows, then for the suspects (of a
	// and b: fewer than maxNamedWorkflows) one list of task results and one
	// of pods, over every namespace.
	lists := map[string]int{}
	for _, a := range append(argo.Actions(), kube.Actions()...) {
		if a.GetVerb() != "list" {
			t.Errorf("unexpected %s %s", a.GetVerb(), a.GetResource().Resource)
		}
		lists[a.GetResource().Resource+"/"+a.GetNamespace()]++
	}
	wantLists := map[string]int{"workflows/": 1, "workflowtaskresults/": 1, "pods/": 1}
	if fmt.Sprint(lists) != fmt.Sprint(wantLists) {
		t.Errorf("requests\n got %v\nwant %v", lists, wantLists)
	}
}

func TestScanOneWorkflow(t *testing.T) {
	now := time.Now()
	f := fixtures.Bool(false)
	w := &world{}
	w.add("a", "mine", wfv1.NodeError, f, now.Add(-time.Hour), f, nil)
	w.add("a", "other", wfv1.NodeError, f, now.Add(-time.Hour), f, nil)
	scan, err := Scanner{Kube: kubefake.NewSimpleClientset(w.kube...), Argo: argofake.NewSimpleClientset(w.argo...),
		Namespace: "a", Workflow: "mine"}.Scan(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(scan.Candidates) != 1 || scan.Candidates[0].Target.Workflow != "mine" {
		t.Errorf("candidates %+v", scan.Candidates)
	}
}

// TestScanChunks: the suspects' task results and pods are read
// maxNamedWorkflows workflows at a time, in the suspects' namespace when a
// chunk has one, and every candidate to be written carries what was listed.
func TestScanChunks(t *testing.T) {
	now := time.Now()
	f := fixtures.Bool(false)
	w := &world{}
	for i := range 150 {
		ns := "a"
		if i >= 120 {
			ns = "b"
		}
		w.add(ns, fmt.Sprintf("wf-%03d", i), wfv1.NodeFailed, f, now.Add(-time.Minute), f, ws(fixtures.WaitKilled))
	}
	// Same name as a suspect of a, in a namespace not otherwise involved:
	// its objects come with the cluster-wide list and are left aside.
	w.add("c", "wf-000", wfv1.NodeSucceeded, fixtures.Bool(true), now.Add(-time.Minute), fixtures.Bool(true), ws(fixtures.WaitDone))
	kube, argo := kubefake.NewSimpleClientset(w.kube...), argofake.NewSimpleClientset(w.argo...)
	scan, err := Scanner{Kube: kube, Argo: argo, Grace: 30 * time.Second}.Scan(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if scan.Suspects != 150 || len(scan.Actionable()) != 150 {
		t.Fatalf("%d suspects, %d actionable; want 150 of each", scan.Suspects, len(scan.Actionable()))
	}
	for _, c := range scan.Candidates {
		s := c.Seed
		if c.Decision.Action != decide.Complete || s == nil || s.Workflow.Name != c.Target.Workflow ||
			s.TaskResult == nil || s.TaskResult.Namespace != c.Target.Namespace || s.TaskResult.Name != c.Target.NodeID ||
			s.Pod == nil || s.Pod.Namespace != c.Target.Namespace || s.Pod.Name != c.Target.PodName || !s.ReadAt.Equal(now) {
			t.Fatalf("candidate %+v (%v) does not carry its own objects: %+v", c.Target, c.Decision, s)
		}
	}
	lists := map[string]int{}
	for _, a := range append(argo.Actions(), kube.Actions()...) {
		lists[a.GetVerb()+" "+a.GetResource().Resource+"/"+a.GetNamespace()]++
	}
	want := map[string]int{"list workflows/": 1, "list workflowtaskresults/a": 1, "list pods/a": 1,
		"list workflowtaskresults/": 1, "list pods/": 1}
	if fmt.Sprint(lists) != fmt.Sprint(want) {
		t.Errorf("requests\n got %v\nwant %v", lists, want)
	}
}
