package app

import (
	"context"
	"encoding/json"
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
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
)

func sweepConfig(t *testing.T, mode string, extra map[string]string) config.Config {
	t.Helper()
	for k, v := range map[string]string{"REMEDIATOR_VERIFY_TIMEOUT": "50ms", "REMEDIATOR_CLUSTER_NAME": "test", "REMEDIATOR_SINK_RETRIES": "0"} {
		t.Setenv(k, v)
	}
	for k, v := range extra {
		t.Setenv(k, v)
	}
	cfg, err := config.Load(mode)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func sweepWorld() (*kubefake.Clientset, *argofake.Clientset) {
	long := time.Now().Add(-time.Hour)
	stuck := fixtures.Workflow("b", "stuck", "uid-stuck", "stuck-1", wfv1.NodeError, fixtures.Bool(false), long)
	live := fixtures.Workflow("b", "live", "uid-live", "live-1", wfv1.NodeFailed, fixtures.Bool(false), long)
	for _, wf := range []*wfv1.Workflow{stuck, live} {
		wf.Labels = map[string]string{common.LabelKeyCompleted: "false"}
	}
	argo := argofake.NewSimpleClientset(stuck, live, fixtures.TaskResult(stuck, "stuck-1", false), fixtures.TaskResult(live, "live-1", false))
	kube := kubefake.NewSimpleClientset(fixtures.Pod(live, "live-1", "live-pod", "uid-live-pod", fixtures.WaitRunning))
	return kube, argo
}

func TestSweepFixesOnlyWhatIsSafe(t *testing.T) {
	kube, argo := sweepWorld()
	rec := &cetest.Recorder{}
	d := Deps{Kube: kube, Argo: argo, Events: rec, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Identity: "sweep-1"}
	if err := Run(context.Background(), sweepConfig(t, config.ModeSweep, nil), d); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"stuck-1": "true", "live-1": "false"} {
		tr, err := argo.ArgoprojV1alpha1().WorkflowTaskResults("b").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil || tr.Labels[common.LabelKeyReportOutputsCompleted] != want {
			t.Errorf("%s: label %v, want %s (%v)", name, tr.Labels, want, err)
		}
	}
	evs := rec.Events()
	if len(evs) != 2 || evs[1].Type() != notify.SweepType {
		t.Fatalf("events %v", evs)
	}
	var s notify.SweepSummary
	if err := json.Unmarshal(evs[1].Data(), &s); err != nil {
		t.Fatal(err)
	}
	if s.Workflows != 2 || s.Suspects != 2 || s.Remediated != 1 || s.Unchanged != 0 || s.Deferred != 1 || s.Failed != 0 {
		t.Errorf("summary %+v", s)
	}
	var data notify.Data
	_ = json.Unmarshal(evs[0].Data(), &data)
	if data.Trigger != "sweep" || data.NodeID != "stuck-1" {
		t.Errorf("node event %s", evs[0].Data())
	}
}

// A dry run writes nothing, and its summary says so: the node it would fix
// is counted unchanged, not remediated (it used to count every run that
// returned no error as remediated).
func TestSweepDryRunWritesNothing(t *testing.T) {
	kube, argo := sweepWorld()
	rec := &cetest.Recorder{}
	d := Deps{Kube: kube, Argo: argo, Events: rec, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := Run(context.Background(), sweepConfig(t, config.ModeSweep, map[string]string{"REMEDIATOR_DRY_RUN": "true"}), d); err != nil {
		t.Fatal(err)
	}
	for _, a := range append(argo.Actions(), kube.Actions()...) {
		switch a.GetVerb() {
		case "create", "update", "patch", "delete":
			t.Errorf("dry run wrote: %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
	evs := rec.Events()
	if len(evs) != 2 || evs[1].Type() != notify.SweepType {
		t.Fatalf("events %v", evs)
	}
	var s notify.SweepSummary
	if err := json.Unmarshal(evs[1].Data(), &s); err != nil {
		t.Fatal(err)
	}
	if s.Remediated != 0 || s.Unchanged != 1 || s.Deferred != 1 || s.Failed != 0 || !s.DryRun {
		t.Errorf("summary %+v, want 0 remediated, 1 unchanged, 1 deferred, dry run", s)
	}
}

func TestWorkflowModeWithoutStuckNode(t *testing.T) {
	kube, argo := sweepWorld()
	rec := &cetest.Recorder{}
	d := Deps{Kube: kube, Argo: argo, Events: rec, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	cfg := sweepConfig(t, "", map[string]string{"REMEDIATOR_NAMESPACE": "b", "REMEDIATOR_WORKFLOW": "absent"})
	if err := Run(context.Background(), cfg, d); err != nil {
		t.Fatal(err)
	}
	if evs := rec.Events(); len(evs) != 1 || evs[0].Type() != notify.TypePrefix+"workflow-gone.v1" {
		t.Errorf("events %v", evs)
	}
}

func TestWorkflowModeFixesItsStuckNodes(t *testing.T) {
	kube, argo := sweepWorld()
	rec := &cetest.Recorder{}
	d := Deps{Kube: kube, Argo: argo, Events: rec, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	cfg := sweepConfig(t, "", map[string]string{"REMEDIATOR_NAMESPACE": "b", "REMEDIATOR_WORKFLOW": "stuck"})
	if err := Run(context.Background(), cfg, d); err != nil {
		t.Fatal(err)
	}
	tr, _ := argo.ArgoprojV1alpha1().WorkflowTaskResults("b").Get(context.Background(), "stuck-1", metav1.GetOptions{})
	if tr.Labels[common.LabelKeyReportOutputsCompleted] != "true" || tr.Annotations["argo-oom-remediator.io/trigger"] != "manual" {
		t.Errorf("task result %v %v", tr.Labels, tr.Annotations)
	}
}
