package podwatch

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func fullPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "wf-1-main", Namespace: "team-a", UID: "u1", ResourceVersion: "7",
			Labels:        map[string]string{WorkflowLabel: "wf-1", "other": "x"},
			Annotations:   map[string]string{nodeIDAnnotation: "wf-1-123", "workflows.argoproj.io/outputs": "big"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet"}},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "wait", Image: "argoexec", Env: []corev1.EnvVar{{Name: "A", Value: "b"}}}, {Name: "main", Image: "x"}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{
				{Name: "main", Image: "x", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137, Message: "m"}}},
				{Name: "wait", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Unix(100, 0)}}},
			},
		},
	}
}

func lean(t *testing.T, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	out, err := Lean(p)
	if err != nil {
		t.Fatal(err)
	}
	return out.(*corev1.Pod)
}

func TestLeanKeepsWhatTheSensorReads(t *testing.T) {
	got := lean(t, fullPod())
	if got.Name != "wf-1-main" || got.Namespace != "team-a" || got.UID != "u1" || got.ResourceVersion != "7" {
		t.Errorf("identity lost: %+v", got.ObjectMeta)
	}
	if len(got.Labels) != 1 || got.Labels[WorkflowLabel] != "wf-1" || len(got.Annotations) != 1 || got.Annotations[nodeIDAnnotation] != "wf-1-123" {
		t.Errorf("labels %v annotations %v: want only the workflow label and the node id", got.Labels, got.Annotations)
	}
	if got.ManagedFields != nil || got.Spec.Containers[0].Image != "" || got.Spec.Containers[0].Env != nil || got.Spec.Containers[1].Name != "main" {
		t.Errorf("spec kept more than container names: %+v", got.Spec.Containers)
	}
	main, wait := got.Status.ContainerStatuses[0], got.Status.ContainerStatuses[1]
	if term := main.State.Terminated; term == nil || term.Reason != "OOMKilled" || term.ExitCode != 137 || term.Message != "" || main.Image != "" {
		t.Errorf("main status: %+v", main)
	}
	if wait.State.Running == nil || !wait.State.Running.StartedAt.Equal(&metav1.Time{Time: time.Unix(100, 0)}) {
		t.Errorf("wait status: %+v", wait)
	}
	if tomb, _ := Lean("not a pod"); tomb != "not a pod" {
		t.Errorf("a non-pod was changed: %v", tomb)
	}
}

func TestChanged(t *testing.T) {
	base := lean(t, fullPod())
	for _, tc := range []struct {
		name   string
		mutate func(p *corev1.Pod)
		want   bool
	}{
		{"only the resourceVersion", func(p *corev1.Pod) { p.ResourceVersion = "8" }, false},
		{"nothing", func(*corev1.Pod) {}, false},
		{"wait terminated", func(p *corev1.Pod) {
			p.Status.ContainerStatuses[1].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137}}
		}, true},
		{"phase", func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning }, true},
		{"node id", func(p *corev1.Pod) { p.Annotations[nodeIDAnnotation] = "other" }, true},
		{"workflow label", func(p *corev1.Pod) { p.Labels[WorkflowLabel] = "wf-2" }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur := lean(t, fullPod())
			tc.mutate(cur)
			if got := Changed(base, cur); got != tc.want {
				t.Errorf("Changed = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestWireCodec: the request as argo-events' generated client encodes it
// (fields 1 and 2, unknown fields skipped), the event as it decodes it.
func TestWireCodec(t *testing.T) {
	var req []byte
	req = protowire.AppendTag(req, 1, protowire.BytesType)
	req = protowire.AppendString(req, "workflow-pods")
	req = protowire.AppendTag(req, 9, protowire.VarintType) // a field of a later version
	req = protowire.AppendVarint(req, 3)
	req = protowire.AppendTag(req, 2, protowire.BytesType)
	req = protowire.AppendBytes(req, []byte("cfg"))
	var es eventSource
	if err := (wireCodec{}).Unmarshal(req, &es); err != nil || es.Name != "workflow-pods" || string(es.Config) != "cfg" {
		t.Fatalf("decoded %+v, %v", es, err)
	}
	if err := (wireCodec{}).Unmarshal([]byte{0x0a, 0x05, 'a'}, &es); err == nil {
		t.Error("a truncated message decoded")
	}
	b, err := (wireCodec{}).Marshal(&event{Name: "workflow-pods", Payload: []byte(`{"type":"DELETE"}`)})
	if err != nil {
		t.Fatal(err)
	}
	fields := map[protowire.Number]string{}
	for len(b) > 0 {
		num, _, n := protowire.ConsumeTag(b)
		v, m := protowire.ConsumeBytes(b[n:])
		if n < 0 || m < 0 {
			t.Fatalf("bad encoding at %x", b)
		}
		fields[num] = string(v)
		b = b[n+m:]
	}
	if fields[1] != "workflow-pods" || fields[2] != `{"type":"DELETE"}` {
		t.Errorf("encoded %v", fields)
	}
	if _, err := (wireCodec{}).Marshal("x"); err == nil {
		t.Error("encoded a foreign type")
	}
}

// TestWatcherSendsChangesTheSensorReads runs the watcher on a fake API
// server with one connected stream: an UPDATE of what the Sensor reads and a
// DELETE are sent as {type, body, oldBody} of lean pods; a metadata-only
// UPDATE is counted and not sent; with no stream an event is dropped and
// counted.
func TestWatcherSendsChangesTheSensorReads(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pod := fullPod()
	pod.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	kube := fake.NewClientset(pod)
	registered := make(chan struct{})
	var once sync.Once
	hub := &Hub{Log: quiet, Streams: func(n int) {
		if n == 1 {
			once.Do(func() { close(registered) })
		}
	}}
	var mu sync.Mutex
	counts := map[string]int{}
	w := &Watcher{Kube: kube, Hub: hub, Log: quiet, Counted: func(typ, outcome string) {
		mu.Lock()
		counts[typ+"/"+outcome]++
		mu.Unlock()
	}}
	ready := make(chan struct{})
	go func() { _ = w.Run(ctx, ready) }()
	<-ready

	pods := kube.CoreV1().Pods("team-a")
	update := func(mutate func(p *corev1.Pod)) {
		t.Helper()
		p, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		mutate(p)
		if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	counted := func(key string, want int) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			mu.Lock()
			n := counts[key]
			mu.Unlock()
			if n == want {
				return
			}
			select {
			case <-deadline:
				t.Fatalf("%s counted %d times, want %d", key, n, want)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}

	// No stream yet: dropped and counted.
	update(func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning })
	counted("UPDATE/"+OutcomeNoStream, 1)

	stream := make(chan *event, 4)
	done := make(chan struct{})
	defer close(done)
	go func() {
		_ = hub.serve(&eventSource{Name: "workflow-pods"}, func(e *event) error { stream <- e; return nil }, done)
	}()
	<-registered

	update(func(p *corev1.Pod) { p.Annotations["workflows.argoproj.io/outputs"] = "changed" })
	counted("UPDATE/"+OutcomeUnchanged, 1)
	update(func(p *corev1.Pod) {
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}
	})
	got := decode(t, <-stream)
	if got.Type != "UPDATE" || got.Body.Status.ContainerStatuses[0].State.Terminated == nil || got.OldBody.Status.ContainerStatuses[0].State.Running == nil {
		t.Errorf("UPDATE event: %+v", got)
	}
	if got.Body.Annotations["workflows.argoproj.io/outputs"] != "" {
		t.Error("the event carries what the lean pod drops")
	}
	if err := pods.Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := decode(t, <-stream); got.Type != "DELETE" || got.Body.Name != pod.Name || got.OldBody != nil {
		t.Errorf("DELETE event: %+v", got)
	}
	counted("UPDATE/"+OutcomeSent, 1)
	counted("DELETE/"+OutcomeSent, 1)
}

func decode(t *testing.T, e *event) Event {
	t.Helper()
	if e.Name != "workflow-pods" {
		t.Errorf("event name %q", e.Name)
	}
	var out Event
	if err := json.Unmarshal(e.Payload, &out); err != nil {
		t.Fatalf("payload %s: %v", e.Payload, err)
	}
	return out
}

// pagedPods serves a list in pages of two, as the API server does with a
// limit, and records the options of each call.
type pagedPods struct {
	pods  []corev1.Pod
	calls []metav1.ListOptions
}

func (p *pagedPods) List(_ context.Context, o metav1.ListOptions) (*corev1.PodList, error) {
	p.calls = append(p.calls, o)
	start := 0
	if o.Continue != "" {
		start = int(o.Continue[0] - '0')
	}
	end := min(start+2, len(p.pods))
	page := &corev1.PodList{Items: p.pods[start:end]}
	page.ResourceVersion = "42"
	if end < len(p.pods) {
		page.Continue = string(rune('0' + end))
	}
	return page, nil
}

// TestLeanListPagesAConsistentRead: the initial list is read in pages,
// without the informer's resourceVersion "0" (the API server would answer
// that from its cache in one piece), and every pod is kept lean.
func TestLeanListPagesAConsistentRead(t *testing.T) {
	src := &pagedPods{}
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		p := fullPod()
		p.Name = name
		src.pods = append(src.pods, *p)
	}
	list, err := leanList(context.Background(), src, metav1.ListOptions{ResourceVersion: "0", Limit: 9999})
	if err != nil {
		t.Fatal(err)
	}
	if len(src.calls) != 3 {
		t.Fatalf("%d list calls, want 3 pages", len(src.calls))
	}
	for _, o := range src.calls {
		if o.ResourceVersion != "" || o.Limit != listPage || o.LabelSelector != WorkflowLabel {
			t.Errorf("list options %+v: want a paged consistent read of workflow pods", o)
		}
	}
	if len(list.Items) != 5 || list.ResourceVersion != "42" || list.Items[4].Name != "e" {
		t.Fatalf("list: %d pods, rv %q", len(list.Items), list.ResourceVersion)
	}
	if list.Items[0].Spec.Containers[0].Image != "" || list.Items[0].ManagedFields != nil {
		t.Error("a listed pod was not made lean")
	}
}
