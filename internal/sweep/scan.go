package sweep

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/wfstatus"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/kubernetes"
)

// PageSize is the page size of the workflow list.
const PageSize = 500

// maxNamedWorkflows bounds the workflow names put in one label selector
// (some 6 KB of URL with names of 60 characters).
const maxNamedWorkflows = 100

// Candidate is a node the sweep found, with the decision taken on what the
// bulk reads showed.
type Candidate struct {
	Target   remediate.Target
	Decision decide.Decision
	// NodeKnown is false when the workflow object does not hold the node
	// (offloaded nodes): the decision rests on the pod's evidence alone.
	NodeKnown bool
	// NodeFinished is when the node ended (zero when not known).
	NodeFinished time.Time
	// Seed is what the scan listed of the node's objects, for a candidate
	// to be written now (nil otherwise).
	Seed *remediate.Seed
}

// Unreadable is a Running workflow whose nodes could not be read (a corrupt
// status.compressedNodes) while false entries hold it.
type Unreadable struct {
	Namespace, Workflow string
	Err                 error
}

// Scan is the result of a scan.
type Scan struct {
	Workflows int // Running workflows looked at
	Suspects  int // nodes with a false status entry whose node has finished
	// Candidates are the suspects, sorted; those whose decision is Complete
	// or Create are to be remediated now.
	Candidates []Candidate
	// Unreadable are the workflows whose stuck nodes could not be assessed.
	Unreadable []Unreadable
}

// Actionable returns the candidates that are safe to fix now.
func (s Scan) Actionable() []Candidate {
	var out []Candidate
	for _, c := range s.Candidates {
		if c.Decision.Action == decide.Complete || c.Decision.Action == decide.Create || c.Patient() {
			out = append(out, c)
		}
	}
	return out
}

// Patient tells whether the candidate is remediated now although it must
// wait out the rest of the grace first: a node the object does not hold
// whose pod is gone. Without the node's finish time a later sweep would
// know no more than this one, so the remediation waits for it.
func (c Candidate) Patient() bool {
	return !c.NodeKnown && c.Decision.Action == decide.Wait && c.Decision.Reason == decide.ReasonWaitPodGone
}

// Scanner reads the cluster in bulk.
type Scanner struct {
	Kube kubernetes.Interface
	Argo versioned.Interface
	// Namespace limits the scan; empty: every namespace.
	Namespace string
	// Workflow limits the scan to one workflow (manual re-trigger).
	Workflow string
	Grace    time.Duration
}

// Scan lists and decides. now is the time decisions are taken at. The
// workflows are read a page at a time and only those with suspect nodes
// are kept: memory follows the page size and the suspects, not the number
// of running workflows. The task results and pods of the suspects are then
// read maxNamedWorkflows workflows at a time, by name, over all the
// namespaces scanned: a few lists, however many namespaces hold suspects.
func (s Scanner) Scan(ctx context.Context, now time.Time) (Scan, error) {
	var res Scan
	var all []suspects
	err := s.eachRunningWorkflow(ctx, func(wf *wfv1.Workflow) {
		res.Workflows++
		if !anyFalse(wf.Status.TaskResultsCompletionStatus) {
			return
		}
		w := wfstatus.FromTyped(wf)
		sus, err := suspectNodes(w)
		if err != nil {
			res.Unreadable = append(res.Unreadable, Unreadable{Namespace: wf.Namespace, Workflow: wf.Name, Err: err})
			return
		}
		if len(sus.ids) > 0 {
			all = append(all, sus)
		}
	})
	if err != nil {
		return Scan{}, err
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i].wf, all[j].wf
		return a.Namespace < b.Namespace || (a.Namespace == b.Namespace && a.Name < b.Name)
	})
	for len(all) > 0 {
		chunk := all[:min(len(all), maxNamedWorkflows)]
		all = all[len(chunk):]
		cands, err := s.scanChunk(ctx, chunk, now)
		if err != nil {
			return res, err
		}
		res.Suspects += len(cands)
		res.Candidates = append(res.Candidates, cands...)
	}
	return res, nil
}

func anyFalse(entries map[string]bool) bool {
	for _, done := range entries {
		if !done {
			return true
		}
	}
	return false
}

// eachRunningWorkflow calls f with every Running workflow, listed in pages
// of PageSize; f must not keep the workflow (its page is reused).
func (s Scanner) eachRunningWorkflow(ctx context.Context, f func(*wfv1.Workflow)) error {
	sel := labels.NewSelector()
	notDone, err := labels.NewRequirement(remediate.LabelWorkflowCompleted, selection.NotEquals, []string{"true"})
	if err != nil {
		return err
	}
	sel = sel.Add(*notDone)
	opts := metav1.ListOptions{LabelSelector: sel.String(), Limit: PageSize}
	if s.Workflow != "" {
		opts.FieldSelector = "metadata.name=" + s.Workflow
	}
	for {
		list, err := s.Argo.ArgoprojV1alpha1().Workflows(s.Namespace).List(ctx, opts)
		if err != nil {
			return fmt.Errorf("listing running workflows in %q: %w", s.Namespace, err)
		}
		for i := range list.Items {
			wf := &list.Items[i]
			if wf.Status.Phase == wfv1.WorkflowRunning && (s.Workflow == "" || wf.Name == s.Workflow) {
				f(wf)
			}
		}
		if list.Continue == "" {
			return nil
		}
		opts.Continue = list.Continue
	}
}

// suspects are the nodes of one workflow the controller waits on.
type suspects struct {
	wf    *wfstatus.Workflow
	ids   []string
	nodes map[string]wfv1.NodeStatus // nil when the object holds no nodes (offloaded)
}

// suspectNodes are the nodes whose status entry is false and whose node has
// finished; with offloaded nodes, every node whose entry is false (the
// decision then rests on the pod). The nodes are read once, compressed or
// not.
func suspectNodes(wf *wfstatus.Workflow) (suspects, error) {
	var falseIDs []string
	for id, done := range wf.Completion {
		if !done {
			falseIDs = append(falseIDs, id)
		}
	}
	slices.Sort(falseIDs)
	sus := suspects{wf: wf}
	if len(falseIDs) == 0 {
		return sus, nil
	}
	if wf.Nodes.Storage() == wfstatus.StorageOffloaded {
		sus.ids = falseIDs
		return sus, nil
	}
	nodes, err := wf.Nodes.Pick(falseIDs)
	if err != nil {
		return sus, fmt.Errorf("workflow %s/%s: %w", wf.Namespace, wf.Name, err)
	}
	sus.nodes = nodes
	for _, id := range falseIDs {
		if node, ok := nodes[id]; ok && wfstatus.Finished(node) {
			sus.ids = append(sus.ids, id)
		}
	}
	return sus, nil
}

// scanChunk reads the task results and pods of a few suspect workflows (at
// most maxNamedWorkflows, sorted by namespace) with one list each, selected
// by workflow name: in their namespace when they share one, else in the
// namespace scanned (every namespace: a workflow of the same name elsewhere
// only adds its own objects, which are left aside).
func (s Scanner) scanChunk(ctx context.Context, wfs []suspects, now time.Time) ([]Candidate, error) {
	ns := s.Namespace
	if first, last := wfs[0].wf.Namespace, wfs[len(wfs)-1].wf.Namespace; first == last {
		ns = first
	}
	names := make([]string, 0, len(wfs))
	for _, sus := range wfs {
		names = append(names, sus.wf.Name)
	}
	slices.Sort(names)
	inWorkflows, err := labels.NewRequirement(remediate.LabelWorkflow, selection.In, slices.Compact(names))
	if err != nil {
		return nil, fmt.Errorf("selecting workflows in %q: %w", ns, err)
	}
	sel := labels.NewSelector().Add(*inWorkflows).String()
	trs, err := s.Argo.ArgoprojV1alpha1().WorkflowTaskResults(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("listing workflowtaskresults in %q: %w", ns, err)
	}
	pods, err := s.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("listing workflow pods in %q: %w", ns, err)
	}
	trByNode := map[string]*wfv1.WorkflowTaskResult{} // by namespace/node ID
	for i := range trs.Items {
		tr := &trs.Items[i]
		trByNode[tr.Namespace+"/"+tr.Name] = tr
	}
	podByNode := map[string]*corev1.Pod{} // by namespace/node ID: the newest
	for i := range pods.Items {
		p := &pods.Items[i]
		key := p.Namespace + "/" + p.Annotations[remediate.AnnotationNodeID]
		if old, ok := podByNode[key]; !ok || old.CreationTimestamp.Before(&p.CreationTimestamp) {
			podByNode[key] = p
		}
	}
	var out []Candidate
	for _, sus := range wfs {
		for _, id := range sus.ids {
			key := sus.wf.Namespace + "/" + id
			pod, tr := podByNode[key], trByNode[key]
			node, known := sus.nodes[id]
			d := decide.Decide(remediate.Assess(sus.wf, node, known, tr, pod, id, s.Grace, now))
			t := remediate.Target{Namespace: sus.wf.Namespace, Workflow: sus.wf.Name, NodeID: id}
			if pod != nil {
				t.PodName, t.PodUID = pod.Name, string(pod.UID)
			}
			c := Candidate{Target: t, Decision: d, NodeKnown: known, NodeFinished: node.FinishedAt.Time}
			if d.Action == decide.Complete || d.Action == decide.Create {
				// The remediation writes on what was just listed instead of
				// reading it again; the write is refused if the task result
				// changed meanwhile (remediate.Seed says why that is enough).
				c.Seed = &remediate.Seed{Workflow: sus.wf, TaskResult: tr, Pod: pod, ReadAt: now}
			}
			out = append(out, c)
		}
	}
	return out, nil
}
