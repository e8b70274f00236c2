package restart

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argoproj/argo-workflows/v3/pkg/apis/workflow"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/notify"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/cluster"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/kubelet"
)

// scenario is a Running workflow whose one pod node is Failed while the
// pod's wait container still runs (the remediator's decision: wait), with
// the task result the executor initialized (label "false").
type scenario struct {
	t      *testing.T
	ns     string
	wf     *wfv1.Workflow
	nodeID string
	pod    *corev1.Pod
	k      kubelet.Kubelet
}

func newScenario(t *testing.T) *scenario {
	t.Helper()
	ctx := context.Background()
	s := &scenario{t: t, ns: env.NewNamespace(t), k: kubelet.Kubelet{Kube: env.Kube, Argo: env.Argo}}
	wfs := env.Argo.ArgoprojV1alpha1().Workflows(s.ns)
	wf, err := wfs.Create(ctx, &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Name: "etl-nightly", Labels: map[string]string{common.LabelKeyCompleted: "false"}},
		Spec: wfv1.WorkflowSpec{Entrypoint: "main", Templates: []wfv1.Template{{Name: "main",
			Container: &corev1.Container{Image: "busybox", Command: []string{"sh", "-c", "head -c 1G /dev/zero | tail"}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.nodeID = wf.Name // a single-pod workflow's node ID is the workflow name
	pod, err := env.Kube.CoreV1().Pods(s.ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        wf.Name,
			Labels:      map[string]string{common.LabelKeyWorkflow: wf.Name, common.LabelKeyCompleted: "false"},
			Annotations: map[string]string{common.AnnotationKeyNodeID: s.nodeID, common.AnnotationKeyNodeName: wf.Name},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: workflow.APIVersion, Kind: workflow.WorkflowKind,
				Name: wf.Name, UID: wf.UID, Controller: ptr(true), BlockOwnerDeletion: ptr(true)}},
		},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{
				{Name: common.WaitContainerName, Image: "quay.io/argoproj/argoexec:v3.5.8"},
				{Name: common.MainContainerName, Image: "busybox", Resources: corev1.ResourceRequirements{
					Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.pod, err = s.k.Start(ctx, s.ns, pod.Name); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	wf.Status = wfv1.WorkflowStatus{Phase: wfv1.WorkflowRunning, StartedAt: metav1.NewTime(now.Add(-time.Minute)),
		Nodes: wfv1.Nodes{s.nodeID: {ID: s.nodeID, Name: wf.Name, DisplayName: wf.Name, Type: wfv1.NodeTypePod,
			TemplateName: "main", Phase: wfv1.NodeFailed, Message: "OOMKilled (exit code 137)",
			StartedAt: metav1.NewTime(now.Add(-time.Minute)), FinishedAt: now}},
		TaskResultsCompletionStatus: map[string]bool{s.nodeID: false},
	}
	if s.wf, err = wfs.Update(ctx, wf, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.k.InitializeOutput(ctx, s.wf, s.nodeID); err != nil {
		t.Fatal(err)
	}
	return s
}

// oomKill plays the kubelet: main OOMKilled, wait killed with it (137).
func (s *scenario) oomKill() {
	s.t.Helper()
	if _, err := s.k.OOMKill(context.Background(), s.ns, s.pod.Name, kubelet.WaitKilled); err != nil {
		s.t.Fatal(err)
	}
}

// finishNormally plays a healthy end: main OOMKilled, the wait container
// finalizes the task result itself (label "true") and exits 0.
func (s *scenario) finishNormally() {
	s.t.Helper()
	ctx := context.Background()
	if _, err := s.k.OOMKill(ctx, s.ns, s.pod.Name, kubelet.WaitKeepsRunning); err != nil {
		s.t.Fatal(err)
	}
	if err := s.k.FinalizeOutput(ctx, s.ns, s.nodeID, nil); err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.k.WaitExit(ctx, s.ns, s.pod.Name, 0); err != nil {
		s.t.Fatal(err)
	}
}

func (s *scenario) taskResult() *wfv1.WorkflowTaskResult {
	s.t.Helper()
	tr, err := env.Argo.ArgoprojV1alpha1().WorkflowTaskResults(s.ns).Get(context.Background(), s.nodeID, metav1.GetOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	return tr
}

// standInForController ends the workflow as Argo's controller would once
// the task result is complete (see kubelet.StandInForController). Giving
// up is a failure unless the test ended it first (its context cancelled).
func (s *scenario) standInForController(ctx context.Context) {
	if err := s.k.StandInForController(ctx, s.ns, s.wf.Name, s.nodeID, 2*time.Minute); err != nil && ctx.Err() == nil {
		s.t.Errorf("%v", err)
	}
}

// process is the remediator binary running on a scenario through a proxy.
type process struct {
	t       *testing.T
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{}
	took    time.Duration

	mu     sync.Mutex
	stderr bytes.Buffer
	events []notify.Data
}

// startRemediator runs the binary on s's node, talking to the API server
// with cfg (a proxy's, or the admin's: directly) and sending its CloudEvent
// to a local sink.
func startRemediator(t *testing.T, s *scenario, cfg *rest.Config) *process {
	t.Helper()
	pr := &process{t: t, done: make(chan struct{})}
	sink := httptest.NewServer(http.HandlerFunc(pr.receive))
	t.Cleanup(sink.Close)
	dir := t.TempDir()
	kc, err := cluster.KubeConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	pr.cmd = exec.Command(binary)
	pr.cmd.Env = []string{"REMEDIATOR_KUBECONFIG=" + kubeconfig, "REMEDIATOR_NAMESPACE=" + s.ns,
		"REMEDIATOR_WORKFLOW=" + s.wf.Name, "REMEDIATOR_NODE_ID=" + s.nodeID, "REMEDIATOR_POD_NAME=" + s.pod.Name,
		"REMEDIATOR_POD_UID=" + string(s.pod.UID), "REMEDIATOR_REASON=OOMKilled", "REMEDIATOR_DEADLINE=3m",
		"REMEDIATOR_VERIFY_TIMEOUT=1m", "REMEDIATOR_SINK_URL=" + sink.URL, "REMEDIATOR_LOG_LEVEL=debug"}
	pr.cmd.Stderr = &lockedWriter{mu: &pr.mu, w: &pr.stderr}
	pr.started = time.Now()
	if err := pr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = pr.cmd.Wait()
		pr.took = time.Since(pr.started)
		close(pr.done)
	}()
	t.Cleanup(func() {
		_ = pr.cmd.Process.Kill() // should the test fail before the end
		<-pr.done
		if t.Failed() {
			t.Logf("remediator log:\n%s", pr.log())
		}
	})
	return pr
}

// receive is the CloudEvents sink (structured mode).
func (pr *process) receive(w http.ResponseWriter, r *http.Request) {
	var ev struct {
		Data notify.Data `json:"data"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	pr.mu.Lock()
	pr.events = append(pr.events, ev.Data)
	pr.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (pr *process) running() bool {
	select {
	case <-pr.done:
		return false
	default:
		return true
	}
}

// wait waits for the process to exit (at most two minutes) and returns its
// exit code.
func (pr *process) wait() int {
	pr.t.Helper()
	select {
	case <-pr.done:
	case <-time.After(2 * time.Minute):
		pr.t.Fatalf("the remediator still runs after two minutes")
	}
	return pr.cmd.ProcessState.ExitCode()
}

func (pr *process) log() string {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.stderr.String()
}

// logged counts the log lines whose msg is msg.
func (pr *process) logged(msg string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(pr.log()))
	for sc.Scan() {
		var line struct{ Msg string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == msg {
			n++
		}
	}
	return n
}

// finished returns the fields of the "remediation finished" log line.
func (pr *process) finished() map[string]any {
	sc := bufio.NewScanner(strings.NewReader(pr.log()))
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "remediation finished" {
			return line
		}
	}
	return nil
}

// event returns the one CloudEvent received; it fails the test otherwise.
func (pr *process) event() notify.Data {
	pr.t.Helper()
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if len(pr.events) != 1 {
		pr.t.Fatalf("the sink received %d CloudEvents, want 1", len(pr.events))
	}
	return pr.events[0]
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func ptr[T any](v T) *T { return &v }

// waitUntil polls cond until it holds or a minute passes.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, time.Minute, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
