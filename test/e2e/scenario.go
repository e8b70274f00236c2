package e2e

import (
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Executor says how the played executor of the victim reports its outputs.
type Executor int

const (
	// TaskResult: InitializeOutput creates the node's WorkflowTaskResult
	// labelled report-outputs-completed=false (Argo v3.5.6+).
	TaskResult Executor = iota
	// Legacy: no task result; the pod is annotated
	// report-outputs-completed=false, as the executor does when RBAC
	// forbids task results.
	Legacy
	// NoReport: neither (the control: nothing says outputs are pending).
	NoReport
)

// Fate is how the played kubelet ends the victim's pod (its first attempt;
// a pod the controller re-creates always succeeds).
type Fate int

const (
	// Succeeds: the step runs a few seconds, the executor reports its
	// outputs, every container exits 0.
	Succeeds Fate = iota
	// OOMDeletedAtOnce: main OOMKilled, wait killed, pod deleted at once
	// (force delete, node loss, pod GC racing the controller).
	OOMDeletedAtOnce
	// OOMDeletedAfterFailed: main OOMKilled, wait killed; the pod is
	// deleted 5 s after the controller marked the node failed.
	OOMDeletedAfterFailed
	// OOMPodKept: main OOMKilled, wait killed, the pod stays.
	OOMPodKept
	// OOMWaitFinishes: main OOMKilled; wait keeps running, reports an
	// output parameter Upload later (5 s by default) and exits 0.
	OOMWaitFinishes
	// OOMWaitFinishesPodDeleted: main OOMKilled, wait keeps running (still
	// uploading) and the pod is deleted at once, as a force delete does
	// while the containers still run on the node until the kubelet stops
	// them (terminationGracePeriodSeconds, 30 s by default); wait reports its
	// output Upload after the deletion, then is gone. No pod status is
	// reported after the deletion.
	OOMWaitFinishesPodDeleted
	// OOMWaitExitsUnfinalized: main OOMKilled; wait exits 0 in the same
	// status update without finalizing its task result (the executor gave
	// up writing it, #14568); the pod stays.
	OOMWaitExitsUnfinalized
)

// ReportsOutputs tells whether the victim's wait container reports its
// outputs under this fate.
func (f Fate) ReportsOutputs() bool {
	return f == Succeeds || f == OOMWaitFinishes || f == OOMWaitFinishesPodDeleted
}

// Shape is the workflow's shape.
type Shape int

const (
	// SinglePod: one container template; its node ID is the workflow name.
	SinglePod Shape = iota
	// ParallelDAG: a DAG of three independent tasks a, b and c; b is the
	// victim, a and c succeed with their outputs.
	ParallelDAG
	// WideDAG: as ParallelDAG with eight tasks a to h, b the victim: a small
	// fan-out whose nodes, once the seven others have their outputs, weigh
	// enough more than their gzip that a MAX_WORKFLOW_SIZE between the two
	// keeps the status compressed at every later write.
	WideDAG
)

// CompressedMaxSize is MAX_WORKFLOW_SIZE for a Compressed scenario, in
// bytes of the workflow's JSON. Measured on every controller version with
// the WideDAG workflow: 4.0–5.7 KB with its nodes inline once the victim
// ended, 2.1–2.6 KB with them compressed (+0.56 KB of managedFields), so
// this sits between with ~400 B of margin each way: the controller packs
// the nodes from then on, and the packed workflow is never too large.
const CompressedMaxSize = 3600

// dagTasks are the task names of each DAG shape.
var dagTasks = map[Shape][]string{
	ParallelDAG: {"a", VictimTask, "c"},
	WideDAG:     {"a", VictimTask, "c", "d", "e", "f", "g", "h"},
}

// Scenario is one row of the matrix.
type Scenario struct {
	Name     string
	Shape    Shape
	Executor Executor
	Fate     Fate
	// Early: the remediator starts at the OOM (for a healthy step: once its
	// node runs), as an event-driven trigger would, instead of after the
	// observation window: inside the controller's window, while the wait
	// container may still write. It must write nothing until the wait
	// container can no longer write (never, where it finishes its outputs
	// or the step reruns).
	Early bool
	// WaitLingers: at the OOM only main is reported dead; the wait
	// container is killed WaitLinger later (the kubelet reports containers
	// one by one), and only then does the fate go on (the pod deleted, or
	// kept). With Early, the remediator runs while wait is still alive: a
	// write before the wait's end fails the timeline check.
	WaitLingers bool
	// Compressed: the controller runs with MAX_WORKFLOW_SIZE lowered to
	// CompressedMaxSize, so once the DAG's nodes have their outputs it keeps
	// them in status.compressedNodes and leaves status.nodes empty, as it
	// does by default above 1 MiB (a fan-out of a few thousand nodes).
	Compressed bool
	// Upload: how long the wait container of an OOMWaitFinishes victim
	// takes to report its outputs after the OOM, or of an
	// OOMWaitFinishesPodDeleted victim after the deletion (0: 5 s).
	Upload time.Duration
	// Grace: the remediator's grace for a vanished pod in this scenario (0:
	// the matrix's default). A scenario whose wait outlives its pod's
	// deletion needs a grace longer than that, as a real install has (the
	// remediator's default 30 s matches the pod's default
	// terminationGracePeriodSeconds).
	Grace time.Duration
	// RunFor: how long the victim's main runs, once its node is Running,
	// before its fate (0: at once). The bench's -run-for sets it.
	RunFor time.Duration
}

// Scenarios are the rows of the matrix, in the order.
var Scenarios = []Scenario{
	{Name: "1-oom-deleted-at-once", Fate: OOMDeletedAtOnce},
	{Name: "2-oom-deleted-after-failed", Fate: OOMDeletedAfterFailed},
	{Name: "3-oom-pod-kept", Fate: OOMPodKept},
	{Name: "4-wait-finishes-with-outputs", Fate: OOMWaitFinishes, Early: true},
	{Name: "5-legacy-annotation", Executor: Legacy, Fate: OOMDeletedAtOnce},
	{Name: "6-dag-one-of-three-oom", Shape: ParallelDAG, Fate: OOMDeletedAtOnce},
	{Name: "7-healthy", Fate: Succeeds, Early: true},
	{Name: "8-dag-compressed", Shape: WideDAG, Fate: OOMDeletedAtOnce, Compressed: true},
	// Issue 16: stuck cases whose remediator starts inside the window, at
	// main's OOM, while the wait container still runs.
	{Name: "9-early-oom-deleted", Fate: OOMDeletedAtOnce, Early: true, WaitLingers: true},
	{Name: "10-early-oom-pod-kept", Fate: OOMPodKept, Early: true, WaitLingers: true},
	// Issue 13: the wait container still uploads outputs after main's OOM
	// for longer than the lowered timeouts of the zero-install alternative
	// (argo.LoweredTimeout), then finalizes them: with the pod kept, and
	// with the pod force-deleted while it uploads. And a stall no version
	// ends quickly: wait exited 0 without finalizing, the pod kept.
	{Name: "11-slow-upload-pod-kept", Fate: OOMWaitFinishes, Early: true, Upload: SlowUpload},
	{Name: "12-slow-upload-pod-deleted", Fate: OOMWaitFinishesPodDeleted, Early: true, Upload: SlowUpload, Grace: 30 * time.Second},
	{Name: "13-wait-exits-unfinalized", Fate: OOMWaitExitsUnfinalized},
	{Name: "control-no-task-result", Executor: NoReport, Fate: OOMDeletedAtOnce},
}

// SlowUpload is how long the slow-upload scenarios' wait container keeps
// uploading: longer than argo.LoweredTimeout, shorter than the remediator's
// default grace for a vanished pod (30 s).
const SlowUpload = 25 * time.Second

// ScenarioNamed returns the scenario called name.
func ScenarioNamed(name string) (Scenario, bool) {
	for _, s := range Scenarios {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// VictimTask is the DAG task whose pod meets the scenario's fate.
const VictimTask = "b"

// OutputParam is the output parameter every step declares and the played
// executor reports when the step's wait container finishes normally.
const OutputParam = "result"

// OutputValue is the value the played executor reports for a node.
func OutputValue(displayName string) string { return displayName + "-ok" }

// NewWorkflow returns the scenario's workflow, to be created in ns.
func (s Scenario) NewWorkflow(ns string) *wfv1.Workflow {
	step := wfv1.Template{
		Name: "step",
		Container: &corev1.Container{Image: "busybox", Command: []string{"sh", "-c", "head -c 1G /dev/zero | tail; echo ok > /tmp/result"},
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}},
		Outputs: wfv1.Outputs{Parameters: []wfv1.Parameter{{Name: OutputParam, ValueFrom: &wfv1.ValueFrom{Path: "/tmp/result"}}}},
	}
	wf := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-", Namespace: ns}}
	if names, dag := dagTasks[s.Shape]; dag {
		var tasks []wfv1.DAGTask
		for _, name := range names {
			tasks = append(tasks, wfv1.DAGTask{Name: name, Template: step.Name})
		}
		wf.Spec = wfv1.WorkflowSpec{Entrypoint: "main", Templates: []wfv1.Template{
			{Name: "main", DAG: &wfv1.DAGTemplate{Tasks: tasks}}, step}}
	} else {
		wf.Spec = wfv1.WorkflowSpec{Entrypoint: step.Name, Templates: []wfv1.Template{step}}
	}
	return wf
}
