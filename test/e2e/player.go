package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// Scenario timings. They ARE the scenarios (how long a step runs, how long
// a wait container takes to save outputs, how late a pod is deleted), so
// they are timers, not synchronisation.
const (
	stepDuration     = 3 * time.Second // a healthy step runs this long once its node is Running
	waitSavesOutputs = 5 * time.Second // OOMWaitFinishes: wait reports its outputs this long after the OOM (unless Scenario.Upload)
	deleteAfterFail  = 5 * time.Second // OOMDeletedAfterFailed: the pod goes this long after the node failed
	nodeTimeout      = 90 * time.Second
	// WaitLinger: WaitLingers scenarios kill the wait container this long
	// after main's OOM.
	WaitLinger = 3 * time.Second
)

// Hooks let a test act at the victim's moments. They run on the player's
// goroutine: they must not block.
type Hooks struct {
	Running func(Timeline) // the victim's node is Running, before its fate
	OOM     func(Timeline) // main was just reported OOMKilled (before any deletion)
	Gone    func(Timeline) // the victim's pod was just deleted
}

// Player plays the kubelet and the executor for every pod the controller
// creates in one namespace.
type Player struct {
	k     kubelet.Kubelet
	argo  versioned.Interface
	ns    string
	s     Scenario
	hooks Hooks
	wg    sync.WaitGroup

	mu       sync.Mutex
	pods     map[types.UID]*Timeline
	attempts map[string]int
	// completed: when each task result was first seen labelled complete.
	completed map[string]Completion
	errs      []error
	changed   chan struct{} // closed and replaced on every change
}

// Play starts playing; it stops when ctx ends (then call Wait).
func Play(ctx context.Context, kube kubernetes.Interface, argo versioned.Interface, ns string, s Scenario, hooks Hooks) (*Player, error) {
	p := &Player{k: kubelet.Kubelet{Kube: kube, Argo: argo}, argo: argo, ns: ns, s: s, hooks: hooks,
		pods: map[types.UID]*Timeline{}, attempts: map[string]int{}, completed: map[string]Completion{}, changed: make(chan struct{})}
	if err := p.watchTaskResults(ctx); err != nil {
		return nil, err
	}
	list, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return kube.CoreV1().Pods(ns).Watch(ctx, o)
		}})
	if err != nil {
		return nil, err
	}
	for i := range list.Items {
		p.add(ctx, &list.Items[i])
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					return
				}
				if pod, isPod := ev.Object.(*corev1.Pod); isPod && ev.Type == watch.Added {
					p.add(ctx, pod)
				}
			}
		}
	}()
	return p, nil
}

// Completion is a task result first seen labelled complete, by the
// player's own watch: a record of the write independent of what the
// remediator reports about itself.
type Completion struct {
	At time.Time // when the watch delivered it (just after the write)
	// ByRemediator: the object then carried the remediator's mark.
	ByRemediator bool
}

// watchTaskResults records when each task result of the namespace is first
// seen with report-outputs-completed=true.
func (p *Player) watchTaskResults(ctx context.Context) error {
	trs := p.argo.ArgoprojV1alpha1().WorkflowTaskResults(p.ns)
	list, err := trs.List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return trs.Watch(ctx, o) }})
	if err != nil {
		return err
	}
	seen := func(tr *wfv1.WorkflowTaskResult) {
		if tr.Labels[common.LabelKeyReportOutputsCompleted] != "true" {
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if _, done := p.completed[tr.Name]; !done {
			_, marked := tr.Annotations[remediate.AnnotationRemediatedAt]
			p.completed[tr.Name] = Completion{At: time.Now(), ByRemediator: marked}
			p.notify()
		}
	}
	for i := range list.Items {
		seen(&list.Items[i])
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					return
				}
				if tr, isTR := ev.Object.(*wfv1.WorkflowTaskResult); isTR && ev.Type != watch.Deleted {
					seen(tr)
				}
			}
		}
	}()
	return nil
}

// Completed returns when the task result of nodeID was first seen
// labelled complete.
func (p *Player) Completed(nodeID string) (Completion, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.completed[nodeID]
	return c, ok
}

// add starts playing a pod not seen before.
func (p *Player) add(ctx context.Context, pod *corev1.Pod) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, seen := p.pods[pod.UID]; seen {
		return
	}
	nodeID := pod.Annotations[common.AnnotationKeyNodeID]
	nodeName := pod.Annotations[common.AnnotationKeyNodeName]
	p.attempts[nodeID]++
	tl := &Timeline{Pod: pod.Name, PodUID: pod.UID, NodeID: nodeID, NodeName: nodeName, Attempt: p.attempts[nodeID],
		Workflow: pod.Labels[common.LabelKeyWorkflow]}
	_, dag := dagTasks[p.s.Shape]
	tl.Victim = tl.Attempt == 1 && (!dag || strings.HasSuffix(nodeName, "."+VictimTask))
	p.pods[pod.UID] = tl
	p.notify()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := p.play(ctx, tl); err != nil && ctx.Err() == nil {
			p.fail(fmt.Errorf("pod %s (node %s, attempt %d): %w", tl.Pod, tl.NodeName, tl.Attempt, err))
		}
	}()
}

// play runs one pod: start, the executor's first report, the node Running,
// then the pod's fate.
func (p *Player) play(ctx context.Context, tl *Timeline) error {
	if _, err := p.k.Start(ctx, p.ns, tl.Pod); err != nil {
		return err
	}
	p.mark(&tl.Started)
	executor := TaskResult
	if tl.Victim {
		executor = p.s.Executor
	}
	switch executor {
	case TaskResult:
		wf, err := p.argo.ArgoprojV1alpha1().Workflows(p.ns).Get(ctx, tl.Workflow, metav1.GetOptions{})
		if err != nil {
			return err
		}
		// A rerun finds the first attempt's task result: the executor then
		// patches it (upsertTaskResult), which leaves its label as it is.
		if _, err := p.k.InitializeOutput(ctx, wf, tl.NodeID); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	case Legacy:
		if err := p.k.AnnotateOutputsCompleted(ctx, p.ns, tl.Pod, false); err != nil {
			return err
		}
	}
	if err := p.awaitNode(ctx, tl, func(n wfv1.NodeStatus) bool { return n.Phase == wfv1.NodeRunning }); err != nil {
		return fmt.Errorf("waiting for the node to run: %w", err)
	}
	p.mark(&tl.Running)
	fate := Succeeds
	if tl.Victim {
		fate = p.s.Fate
		if p.hooks.Running != nil {
			p.hooks.Running(p.snapshot(tl))
		}
		if err := after(ctx, p.s.RunFor); err != nil {
			return err
		}
	}
	if err := p.endPod(ctx, tl, fate); err != nil {
		return err
	}
	p.mark(&tl.Done)
	return nil
}

// endPod plays the fate.
func (p *Player) endPod(ctx context.Context, tl *Timeline, fate Fate) error {
	if fate == Succeeds {
		if err := after(ctx, stepDuration); err != nil {
			return err
		}
		if err := p.k.FinalizeOutput(ctx, p.ns, tl.NodeID, outputsOf(tl)); err != nil {
			return err
		}
		p.mark(&tl.WaitEnding)
		_, err := p.k.Succeed(ctx, p.ns, tl.Pod)
		p.waitEnded(tl, 0)
		return err
	}
	end := kubelet.WaitKilled
	lingers := fate == OOMWaitFinishes || fate == OOMWaitFinishesPodDeleted || (tl.Victim && p.s.WaitLingers)
	switch {
	case lingers:
		end = kubelet.WaitKeepsRunning
	case fate == OOMWaitExitsUnfinalized:
		end = kubelet.WaitCompleted // exit 0, the task result left false
		p.mark(&tl.WaitEnding)
	default:
		p.mark(&tl.WaitEnding) // wait dies in the same status update as main
	}
	if _, err := p.k.OOMKill(ctx, p.ns, tl.Pod, end); err != nil {
		return err
	}
	p.mark(&tl.OOM)
	switch end {
	case kubelet.WaitKilled:
		p.waitEnded(tl, 137)
	case kubelet.WaitCompleted:
		p.waitEnded(tl, 0)
	}
	if p.hooks.OOM != nil {
		p.hooks.OOM(p.snapshot(tl))
	}
	if lingers && fate != OOMWaitFinishes && fate != OOMWaitFinishesPodDeleted {
		// The wait container is killed WaitLinger after main (exit 137,
		// without finalizing), then the fate goes on.
		if err := after(ctx, WaitLinger); err != nil {
			return err
		}
		p.mark(&tl.WaitEnding)
		if _, err := p.k.WaitExit(ctx, p.ns, tl.Pod, 137); err != nil {
			return err
		}
		p.waitEnded(tl, 137)
	}
	switch fate {
	case OOMDeletedAtOnce:
		return p.delete(ctx, tl)
	case OOMDeletedAfterFailed:
		if err := p.awaitNode(ctx, tl, func(n wfv1.NodeStatus) bool { return n.Phase.FailedOrError() }); err != nil {
			return fmt.Errorf("waiting for the node to fail: %w", err)
		}
		if err := after(ctx, deleteAfterFail); err != nil {
			return err
		}
		return p.delete(ctx, tl)
	case OOMWaitFinishesPodDeleted:
		if err := p.delete(ctx, tl); err != nil {
			return err
		}
		// The wait container uploads on, on the node, then reports its
		// outputs and is gone: nothing reports its end but the task result.
		if err := after(ctx, p.upload()); err != nil {
			return err
		}
		// By then the step may have rerun and the workflow ended: v3.7.18
		// deletes the task results of a completed workflow, and the real
		// executor's write would find none (its outputs are then those of
		// the rerun, which the outputs check reads from the node).
		if err := p.k.FinalizeOutput(ctx, p.ns, tl.NodeID, outputsOf(tl)); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		p.mark(&tl.WaitEnding)
		p.mark(&tl.WaitEnded)
		return nil
	case OOMWaitFinishes:
		if err := after(ctx, p.upload()); err != nil {
			return err
		}
		if err := p.k.FinalizeOutput(ctx, p.ns, tl.NodeID, outputsOf(tl)); err != nil {
			return err
		}
		p.mark(&tl.WaitEnding)
		_, err := p.k.WaitExit(ctx, p.ns, tl.Pod, 0)
		p.waitEnded(tl, 0)
		return err
	}
	return nil
}

// upload is how long the victim's wait container saves its outputs.
func (p *Player) upload() time.Duration {
	if p.s.Upload > 0 {
		return p.s.Upload
	}
	return waitSavesOutputs
}

func (p *Player) delete(ctx context.Context, tl *Timeline) error {
	if err := p.k.Delete(ctx, p.ns, tl.Pod); err != nil {
		return err
	}
	p.mark(&tl.Deleted)
	if p.hooks.Gone != nil {
		p.hooks.Gone(p.snapshot(tl))
	}
	return nil
}

// awaitNode polls the workflow until the pod's node satisfies cond.
func (p *Player) awaitNode(ctx context.Context, tl *Timeline, cond func(wfv1.NodeStatus) bool) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, nodeTimeout, true, func(ctx context.Context) (bool, error) {
		wf, err := p.argo.ArgoprojV1alpha1().Workflows(p.ns).Get(ctx, tl.Workflow, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if wf, err = inflated(wf); err != nil {
			return false, err
		}
		n, ok := wf.Status.Nodes[tl.NodeID]
		return ok && cond(n), nil
	})
}

func outputsOf(tl *Timeline) *wfv1.Outputs {
	name := tl.NodeName
	if i := strings.LastIndex(name, "."); i >= 0 {
		name = name[i+1:]
	}
	return &wfv1.Outputs{Parameters: []wfv1.Parameter{{Name: OutputParam, Value: wfv1.AnyStringPtr(OutputValue(name))}}}
}

// after is a deliberate delay that is part of a scenario.
func after(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
