package events

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-workflows/v3/pkg/apis/workflow"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	wfclientset "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
)

// TestCaptureFixtures rebuilds testdata/pods from a real kube-apiserver:
//
//	CAPTURE_FIXTURES=1 go test ./test/events -run TestCaptureFixtures
//
// (needs `make tools-cluster`). For each scenario it creates the pod as the
// workflow controller does, binds it as the scheduler does, writes its status
// with UpdateStatus as the kubelet does and deletes it as pod GC and the
// kubelet do, and stores every object a pod watch delivered: what the
// EventSource's informer puts in `body` and `oldBody`.
func TestCaptureFixtures(t *testing.T) {
	if os.Getenv("CAPTURE_FIXTURES") != "1" {
		t.Skip("set CAPTURE_FIXTURES=1 to rebuild testdata/pods from a local kube-apiserver")
	}
	c := cluster.Start(t)
	capturer := newCapturer(c.Config)
	if err := os.RemoveAll(podsDir); err != nil {
		t.Fatal(err)
	}
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) { capturer.run(t, sc) })
	}
}

// scenario is one pod's life: created, then each step.
type scenario struct {
	name string
	pod  *corev1.Pod
	// workflow, if set, is created first and owns the pod.
	workflow string
	steps    []step
}

// step is a status write by the kubelet, or (status nil) the pod's deletion.
type step struct {
	name   string
	status func(p *corev1.Pod, now time.Time)
}

// deleted is the pod's deletion; see capturer.run for the events it produces.
var deleted = step{name: "delete"}

const (
	teamNS     = "team-a"
	workerNode = "worker-1"
	longWF     = "nightly-feature-engineering-for-the-recommendation-models-v2-eu" // 63 characters
)

// longNS is a namespace name of the maximum length (63).
var longNS = "data-platform-" + strings.Repeat("x", 63-len("data-platform-"))

func scenarios() []scenario {
	long := argoPod(longNS, longWF, longWF+"-1234567890", longWF+"[0].träin-ステップ 🚀", 253)
	return []scenario{
		{name: "oom-main", workflow: "etl-nightly", pod: argoPod(teamNS, "etl-nightly", "etl-nightly-3311720384", "etl-nightly[0].transform", 0),
			steps: []step{
				{name: "running", status: kubelet.Running},
				{name: "main-oomkilled", status: kubelet.Terminated("main", 137, "OOMKilled")},
				{name: "wait-killed", status: kubelet.Terminated("wait", 137, "Error")},
				deleted,
			}},
		{name: "succeeded", workflow: "report-daily", pod: argoPod(teamNS, "report-daily", "report-daily-1873512409", "report-daily[0].render", 0),
			steps: []step{
				{name: "running", status: kubelet.Running},
				{name: "main-completed", status: kubelet.Terminated("main", 0, "Completed")},
				{name: "wait-completed", status: kubelet.Terminated("wait", 0, "Completed")},
				deleted,
			}},
		{name: "deleted-running", workflow: "backfill", pod: argoPod(teamNS, "backfill", "backfill-2405596314", "backfill[3].load", 0),
			steps: []step{{name: "running", status: kubelet.Running}, deleted}},
		{name: "wait-failed", workflow: "publish", pod: argoPod(teamNS, "publish", "publish-980113874", "publish[1].upload", 0),
			steps: []step{
				{name: "running", status: kubelet.Running},
				{name: "main-failed", status: kubelet.Terminated("main", 1, "Error")},
				{name: "wait-failed", status: kubelet.Terminated("wait", 1, "Error")},
			}},
		{name: "not-a-workflow-pod", pod: plainPod(teamNS, "web-5d9c7b6f4-x2x8q"),
			steps: []step{
				{name: "running", status: kubelet.Running},
				{name: "app-oomkilled", status: kubelet.Terminated("app", 137, "OOMKilled")},
			}},
		{name: "init-oom", workflow: "ingest", pod: argoPod(teamNS, "ingest", "ingest-4120348621", "ingest[0].fetch", 0),
			steps: []step{
				{name: "initializing", status: kubelet.Initializing},
				{name: "init-oomkilled", status: kubelet.Terminated("init", 137, "OOMKilled")},
			}},
		{name: "containerset-oom", workflow: "train", pod: containerSetPod(teamNS, "train", "train-2868423066", "train[0].fit"),
			steps: []step{
				{name: "running", status: kubelet.Running},
				{name: "prepare-completed", status: kubelet.Terminated("prepare", 0, "Completed")},
				{name: "train-oomkilled", status: kubelet.Terminated("train", 137, "OOMKilled")},
				{name: "wait-killed", status: kubelet.Terminated("wait", 137, "Error")},
			}},
		{name: "no-node-id", workflow: "legacy", pod: withoutNodeID(argoPod(teamNS, "legacy", "legacy-77812", "legacy", 0)),
			steps: []step{
				{name: "running", status: kubelet.Running},
				{name: "main-oomkilled", status: kubelet.Terminated("main", 137, "OOMKilled")},
			}},
		{name: "long-names", workflow: longWF, pod: long,
			steps: []step{
				{name: "running", status: kubelet.Running},
				{name: "main-oomkilled", status: kubelet.Terminated("main", 137, "OOMKilled")},
				deleted,
			}},
	}
}

// argoPod is a container-template pod as the workflow controller creates it:
// init and wait run argoexec, main the user's image. nameLen > 0 pads the
// pod name to that length.
func argoPod(ns, wf, nodeID, nodeName string, nameLen int) *corev1.Pod {
	name := podName(wf, nodeID)
	if nameLen > 0 {
		name = wf + "-" + strings.Repeat("p", nameLen-len(wf)-11) + nodeID[len(nodeID)-10:]
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name,
			Labels: map[string]string{common.LabelKeyWorkflow: wf, common.LabelKeyCompleted: "false"},
			Annotations: map[string]string{
				common.AnnotationKeyNodeID: nodeID, common.AnnotationKeyNodeName: nodeName,
				common.AnnotationKeyDefaultContainer: common.MainContainerName,
			},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:  corev1.RestartPolicyNever,
			InitContainers: []corev1.Container{argoexec(common.InitContainerName, "init")},
			Containers: []corev1.Container{
				argoexec(common.WaitContainerName, "wait"),
				userContainer(common.MainContainerName, "python:3.12", "64Mi"),
			},
		},
	}
	return p
}

// containerSetPod is a ContainerSet template's pod: wait plus the user's
// containers, none of them called main.
func containerSetPod(ns, wf, nodeID, nodeName string) *corev1.Pod {
	p := argoPod(ns, wf, nodeID, nodeName, 0)
	p.Annotations[common.AnnotationKeyDefaultContainer] = "train"
	p.Spec.Containers = []corev1.Container{
		argoexec(common.WaitContainerName, "wait"),
		userContainer("prepare", "python:3.12", "128Mi"),
		userContainer("train", "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime", "2Gi"),
	}
	return p
}

func plainPod(ns, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyAlways,
			Containers:    []corev1.Container{userContainer("app", "nginx:1.27", "64Mi")},
		},
	}
}

func withoutNodeID(p *corev1.Pod) *corev1.Pod {
	delete(p.Annotations, common.AnnotationKeyNodeID)
	return p
}

// podName is Argo's v2 pod name: <workflow>-<template>-<node ID hash>.
func podName(wf, nodeID string) string {
	return wf + "-main-" + nodeID[strings.LastIndex(nodeID, "-")+1:]
}

func argoexec(name, cmd string) corev1.Container {
	return corev1.Container{
		Name: name, Image: "quay.io/argoproj/argoexec:v3.6.15",
		Command: []string{"argoexec"}, Args: []string{cmd, "--loglevel", "info", "--log-format", "text"},
		Env: []corev1.EnvVar{{Name: "ARGO_CONTAINER_NAME", Value: name}},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		},
	}
}

func userContainer(name, image, memLimit string) corev1.Container {
	return corev1.Container{
		Name: name, Image: image, Command: []string{"/var/run/argo/argoexec", "emissary", "--"},
		Args: []string{"python", "job.py"},
		Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memLimit)},
		},
	}
}

// --- the capture itself ---

// capturer holds one client per actor, so managedFields name who wrote what.
type capturer struct {
	controller, scheduler, kubelet, podGC kubernetes.Interface
	argo                                  wfclientset.Interface
	watcher                               dynamic.Interface
}

func newCapturer(cfg *rest.Config) *capturer {
	as := func(agent string) kubernetes.Interface {
		c := rest.CopyConfig(cfg)
		c.UserAgent = agent
		return kubernetes.NewForConfigOrDie(c)
	}
	return &capturer{
		controller: as("workflow-controller"), scheduler: as("kube-scheduler"), kubelet: as("kubelet"),
		podGC: as("workflow-controller"), argo: wfclientset.NewForConfigOrDie(cfg), watcher: dynamic.NewForConfigOrDie(cfg),
	}
}

func (c *capturer) run(t *testing.T, sc scenario) {
	ctx := context.Background()
	ns := sc.pod.Namespace
	c.ensureNamespace(t, ns)
	if sc.workflow != "" {
		sc.pod.OwnerReferences = []metav1.OwnerReference{c.createWorkflow(t, ns, sc.workflow)}
	}
	w, err := c.watcher.Resource(corev1.SchemeGroupVersion.WithResource("pods")).Namespace(ns).Watch(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", sc.pod.Name).String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	events := w.ResultChan()

	pod, err := c.controller.CoreV1().Pods(ns).Create(ctx, sc.pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating pod: %v", err)
	}
	next(t, events, watch.Added)
	binding := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, UID: pod.UID}, Target: corev1.ObjectReference{Kind: "Node", Name: workerNode}}
	if err := c.scheduler.CoreV1().Pods(ns).Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("binding pod: %v", err)
	}
	next(t, events, watch.Modified)

	n := 0
	record := func(ev watch.Event, name string) {
		n++
		writeFixture(t, filepath.Join(podsDir, sc.name, fmt.Sprintf("%02d-%s.json", n, name)), ev.Object.(*unstructured.Unstructured))
	}
	for _, st := range sc.steps {
		if st.status != nil {
			c.writeStatus(t, ns, pod.Name, st.status)
			record(next(t, events, watch.Modified), st.name)
			continue
		}
		// Deletion by a client (pod GC, kubectl) with the default grace
		// period. The API server first records the deletion (an update
		// setting deletionTimestamp). A pod in a terminal phase gets grace
		// period 0 and is removed at once; any other pod stays until the
		// kubelet, its containers stopped, deletes it with grace period 0
		// and a UID precondition: another update (grace 0), then removal.
		if err := c.podGC.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("deleting pod: %v", err)
		}
		marked := next(t, events, watch.Modified)
		if u := marked.Object.(*unstructured.Unstructured); u.GetDeletionGracePeriodSeconds() != nil && *u.GetDeletionGracePeriodSeconds() == 0 {
			record(marked, "grace-period-zero")
			record(next(t, events, watch.Deleted), "deleted")
			continue
		}
		record(marked, "terminating")
		if err := c.kubelet.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To(int64(0)), Preconditions: &metav1.Preconditions{UID: &pod.UID},
		}); err != nil {
			t.Fatalf("removing pod: %v", err)
		}
		record(next(t, events, watch.Modified), "grace-period-zero")
		record(next(t, events, watch.Deleted), "deleted")
	}
}

// writeStatus reads the pod and writes its status back changed by f, like a
// kubelet's status manager.
func (c *capturer) writeStatus(t *testing.T, ns, name string, f func(*corev1.Pod, time.Time)) {
	ctx := context.Background()
	p, err := c.kubelet.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f(p, time.Now().UTC().Truncate(time.Second))
	if _, err := c.kubelet.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("writing status: %v", err)
	}
}

// next returns the next watch event, which must be of type want.
func next(t *testing.T, events <-chan watch.Event, want watch.EventType) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("watch closed")
		}
		if ev.Type != want {
			t.Fatalf("watch event %s, want %s: %v", ev.Type, want, ev.Object)
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s watch event within 10s", want)
	}
	return watch.Event{}
}

func (c *capturer) ensureNamespace(t *testing.T, ns string) {
	ctx := context.Background()
	_, err := c.controller.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	// No controller-manager creates the default ServiceAccount that the
	// ServiceAccount admission plugin requires.
	_, err = c.controller.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// createWorkflow stores a Workflow so the pod's owner reference has a real UID.
func (c *capturer) createWorkflow(t *testing.T, ns, name string) metav1.OwnerReference {
	wf := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       wfv1.WorkflowSpec{Entrypoint: "main", Templates: []wfv1.Template{{Name: "main", Container: &corev1.Container{Image: "python:3.12"}}}},
	}
	got, err := c.argo.ArgoprojV1alpha1().Workflows(ns).Create(context.Background(), wf, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating workflow: %v", err)
	}
	return metav1.OwnerReference{
		APIVersion: workflow.APIVersion, Kind: workflow.WorkflowKind, Name: got.Name, UID: got.UID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}
}

// writeFixture stores obj as indented JSON.
func writeFixture(t *testing.T, path string, obj *unstructured.Unstructured) {
	t.Helper()
	data, err := json.MarshalIndent(obj.Object, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}
