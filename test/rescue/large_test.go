package rescue

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/util/file"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
)

// Large workflows on the real API server, the real binary: the node is read
// wherever the controller keeps it, and a workflow whose nodes cannot be
// read is never written on and never reported as done.

// restatus rewrites the scenario workflow's status with change applied.
func restatus(s *support.Stuck, change func(*wfv1.WorkflowStatus)) {
	s.T.Helper()
	ctx := context.Background()
	wf, err := env.Argo.ArgoprojV1alpha1().Workflows(s.NS).Get(ctx, s.WF.Name, metav1.GetOptions{})
	if err != nil {
		s.T.Fatal(err)
	}
	change(&wf.Status)
	if s.WF, err = env.Argo.ArgoprojV1alpha1().Workflows(s.NS).Update(ctx, wf, metav1.UpdateOptions{}); err != nil {
		s.T.Fatal(err)
	}
}

func TestLargeWorkflowStatus(t *testing.T) {
	cases := []struct {
		name     string
		status   func(t *testing.T, st *wfv1.WorkflowStatus)
		wantCode int
		outcome  remediate.Outcome
		storage  string
	}{
		{"compressed as Argo's packer does", func(t *testing.T, st *wfv1.WorkflowStatus) {
			nodes, err := json.Marshal(st.Nodes) // workflow/packer's compressWorkflow
			if err != nil {
				t.Fatal(err)
			}
			st.Nodes, st.CompressedNodes = nil, file.CompressEncodeString(string(nodes))
		}, 0, remediate.OutcomeRemediated, "compressed"},
		{"offloaded to the controller's database", func(t *testing.T, st *wfv1.WorkflowStatus) {
			st.Nodes, st.OffloadNodeStatusVersion = nil, "fnv:784403396"
		}, 0, remediate.OutcomeRemediated, "offloaded"},
		{"corrupt compressedNodes", func(t *testing.T, st *wfv1.WorkflowStatus) {
			st.Nodes, st.CompressedNodes = nil, file.CompressEncodeString(`{"truncated":`)
		}, 4, remediate.OutcomeNodesUnreadable, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := newScenario(t, wfv1.NodeRunning, fixtures.Bool(false))
			s.InitializeOutput()
			s.OOMKill(kubelet.WaitKilled)
			s.MarkNode(wfv1.NodeFailed, "OOMKilled (exit code 137)")
			restatus(s, func(st *wfv1.WorkflowStatus) { tc.status(t, st) })
			if len(s.WF.Status.Nodes) != 0 {
				t.Fatalf("the API server kept status.nodes: %d", len(s.WF.Status.Nodes))
			}
			before := s.TaskResult().ResourceVersion
			if tc.wantCode == 0 {
				go s.StandInForController(ctx, time.Minute)
			}
			sink := support.NewSink(t, support.SinkAccept)
			proxy := support.NewProxy(t, env.Config)
			a := support.Run(t, env.Binary, s.Env(proxy.Config(), sink.URL(), map[string]string{"REMEDIATOR_VERIFY_TIMEOUT": "30s"}))
			if a.Code != tc.wantCode {
				t.Fatalf("exit %d, want %d:\n%s", a.Code, tc.wantCode, a.Stderr)
			}
			end := a.Line("remediation finished")
			if end == nil || end["outcome"] != string(tc.outcome) {
				t.Fatalf("final line %v, want outcome %s:\n%s", end, tc.outcome, a.Stderr)
			}
			evs := sink.Processed()
			if len(evs) != 1 {
				t.Fatalf("%d CloudEvents, want 1", len(evs))
			}
			data, _ := evs[0]["data"].(map[string]any)
			tr := s.TaskResult()
			events := s.Events()
			if tc.wantCode == 0 {
				if tr.Labels[remediate.LabelCompleted] != "true" || data["nodesStorage"] != tc.storage || data["nodePhase"] == "" && tc.storage == "compressed" {
					t.Errorf("task result labels %v, event data %v; want completed, nodesStorage %s", tr.Labels, data, tc.storage)
				}
				return
			}
			if tr.ResourceVersion != before || tr.Labels[remediate.LabelCompleted] != "false" {
				t.Errorf("the task result was written (%s → %s, labels %v)", before, tr.ResourceVersion, tr.Labels)
			}
			if data["stuck"] != true || data["error"] == nil {
				t.Errorf("event data %v, want stuck with the error", data)
			}
			if len(events) != 1 || events[0] != "Warning "+remediate.ReasonStuck {
				t.Errorf("events %v, want one Warning %s", events, remediate.ReasonStuck)
			}
			wf, err := env.Argo.ArgoprojV1alpha1().Workflows(s.NS).Get(ctx, s.WF.Name, metav1.GetOptions{})
			if err != nil || wf.Status.Phase != wfv1.WorkflowRunning {
				t.Errorf("workflow %v, %v; want untouched Running", wf.Status.Phase, err)
			}
		})
	}
}
