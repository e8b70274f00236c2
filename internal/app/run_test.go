package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/cetest"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/config"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/notify"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	argofake "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
)

const (
	ns, wfName, wfUID, nodeID, podName, podUID = "team-a", "etl", "wf-uid-1", "etl-123", "etl-main-123", "pod-uid-1"
)

func loadConfig(t *testing.T, extra map[string]string) config.Config {
	t.Helper()
	env := map[string]string{
		"REMEDIATOR_NAMESPACE": ns, "REMEDIATOR_WORKFLOW": wfName, "REMEDIATOR_NODE_ID": nodeID,
		"REMEDIATOR_POD_NAME": podName, "REMEDIATOR_POD_UID": podUID, "REMEDIATOR_REASON": "OOMKilled",
		"REMEDIATOR_VERIFY_TIMEOUT": "200ms", "REMEDIATOR_CLUSTER_NAME": "test", "REMEDIATOR_SINK_RETRIES": "1",
	}
	for k, v := range extra {
		env[k] = v
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func deps(events *cetest.Recorder) (Deps, *kubefake.Clientset, *argofake.Clientset) {
	wf := fixtures.Workflow(ns, wfName, wfUID, nodeID, wfv1.NodeError, fixtures.Bool(false), time.Now())
	kube := kubefake.NewSimpleClientset(fixtures.Pod(wf, nodeID, podName, podUID, fixtures.WaitKilled))
	argo := argofake.NewSimpleClientset(wf, fixtures.TaskResult(wf, nodeID, false))
	d := Deps{Kube: kube, Argo: argo, Events: events, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Identity: "job-pod-1", NotifyBackoff: time.Millisecond}
	if events == nil {
		d.Events = nil
	}
	return d, kube, argo
}

func kubeEvents(t *testing.T, kube *kubefake.Clientset) []corev1.Event {
	t.Helper()
	list, err := kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func TestRunReportsWhatItDid(t *testing.T) {
	rec := &cetest.Recorder{}
	d, kube, argo := deps(rec)
	err := Run(context.Background(), loadConfig(t, nil), d)
	if ExitCode(err) != ExitOK {
		t.Fatalf("exit %d: %v", ExitCode(err), err)
	}
	tr, _ := argo.ArgoprojV1alpha1().WorkflowTaskResults(ns).Get(context.Background(), nodeID, metav1.GetOptions{})
	if tr.Labels["workflows.argoproj.io/report-outputs-completed"] != "true" {
		t.Errorf("task result not completed: %v", tr.Labels)
	}
	evs := rec.Events()
	if len(evs) != 1 || !rec.Structured() {
		t.Fatalf("%d CloudEvents (structured %v)", len(evs), rec.Structured())
	}
	ev := evs[0]
	if ev.Type() != notify.TypePrefix+"remediated-unverified.v1" || ev.Subject() != ns+"/"+wfName+"/"+nodeID ||
		ev.Source() != "urn:argo-oom-remediator:test" {
		t.Errorf("event %s", ev)
	}
	var data notify.Data
	if err := json.Unmarshal(ev.Data(), &data); err != nil {
		t.Fatal(err)
	}
	if data.Action != "complete" || data.Pod != podName || data.PodUID != podUID || data.ExitCode == nil || *data.ExitCode != 137 || data.MemoryLimit != "64Mi" {
		t.Errorf("data %s", ev.Data())
	}
	k := kubeEvents(t, kube)
	if len(k) != 1 || k[0].Reason != "TaskResultComplete" || k[0].InvolvedObject.UID != wfUID ||
		k[0].InvolvedObject.Kind != "Workflow" || k[0].ReportingInstance != "job-pod-1" || k[0].Type != corev1.EventTypeNormal {
		t.Errorf("kubernetes events %+v", k)
	}
}

func TestNotificationFailureIsVisible(t *testing.T) {
	rec := &cetest.Recorder{Fail: errors.New("sink down")}
	d, kube, argo := deps(rec)
	err := Run(context.Background(), loadConfig(t, nil), d)
	if ExitCode(err) != ExitNotifyFailed {
		t.Fatalf("exit %d: %v", ExitCode(err), err)
	}
	// The remediation stands.
	tr, _ := argo.ArgoprojV1alpha1().WorkflowTaskResults(ns).Get(context.Background(), nodeID, metav1.GetOptions{})
	if tr.Labels["workflows.argoproj.io/report-outputs-completed"] != "true" {
		t.Errorf("task result not completed: %v", tr.Labels)
	}
	var warned bool
	for _, e := range kubeEvents(t, kube) {
		warned = warned || (e.Reason == "NotificationFailed" && e.Type == corev1.EventTypeWarning)
	}
	if !warned {
		t.Error("no NotificationFailed event")
	}
}

func TestBadInputWritesNothing(t *testing.T) {
	rec := &cetest.Recorder{}
	d, kube, argo := deps(rec)
	cfg := loadConfig(t, nil)
	cfg.Namespace = "Not_Valid"
	err := Run(context.Background(), cfg, d)
	if ExitCode(err) != ExitBadInput {
		t.Fatalf("exit %d: %v", ExitCode(err), err)
	}
	if n := len(kube.Actions()) + len(argo.Actions()) + len(rec.Events()); n != 0 {
		t.Errorf("%d calls made", n)
	}
}

func TestDryRunWritesNoEvents(t *testing.T) {
	rec := &cetest.Recorder{}
	d, kube, _ := deps(rec)
	err := Run(context.Background(), loadConfig(t, map[string]string{"REMEDIATOR_DRY_RUN": "true"}), d)
	if ExitCode(err) != ExitOK {
		t.Fatal(err)
	}
	if k := kubeEvents(t, kube); len(k) != 0 {
		t.Errorf("events %v", k)
	}
	if evs := rec.Events(); len(evs) != 1 || evs[0].Type() != notify.TypePrefix+"would-remediate.v1" {
		t.Errorf("cloudevents %v", evs)
	}
}

func TestInterruptedExitsForRetry(t *testing.T) {
	rec := &cetest.Recorder{}
	d, _, _ := deps(rec)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Run(ctx, loadConfig(t, nil), d)
	if ExitCode(err) != ExitFailure || !errors.Is(err, context.Canceled) {
		t.Fatalf("exit %d: %v", ExitCode(err), err)
	}
}

func TestWithoutSinkLogsOnly(t *testing.T) {
	d, _, _ := deps(nil)
	if err := Run(context.Background(), loadConfig(t, nil), d); err != nil {
		t.Fatal(err)
	}
}
