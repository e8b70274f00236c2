package wfstatus

import (
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// TestFinishedIgnoresTaskResultSynced pins the meaning the remediator
// relies on: a node that failed while its task result is not synced (how a
// v3.7+/v4 controller records the stuck node) has finished running. Argo
// v3.7's NodeStatus.Fulfilled says false for it.
func TestFinishedIgnoresTaskResultSynced(t *testing.T) {
	no, yes := false, true
	daemoned := true
	for _, tc := range []struct {
		node wfv1.NodeStatus
		want bool
	}{
		{wfv1.NodeStatus{Phase: wfv1.NodeFailed, TaskResultSynced: &no}, true},
		{wfv1.NodeStatus{Phase: wfv1.NodeError, TaskResultSynced: &no}, true},
		{wfv1.NodeStatus{Phase: wfv1.NodeSucceeded, TaskResultSynced: &yes}, true},
		{wfv1.NodeStatus{Phase: wfv1.NodeSucceeded}, true},
		{wfv1.NodeStatus{Phase: wfv1.NodeSkipped}, true},
		{wfv1.NodeStatus{Phase: wfv1.NodeOmitted}, true},
		{wfv1.NodeStatus{Phase: wfv1.NodeRunning}, false},
		{wfv1.NodeStatus{Phase: wfv1.NodePending}, false},
		{wfv1.NodeStatus{Phase: ""}, false},
		{wfv1.NodeStatus{Phase: wfv1.NodeRunning, Daemoned: &daemoned}, true},
		{wfv1.NodeStatus{Phase: wfv1.NodePending, Daemoned: &daemoned}, false},
	} {
		if got := Finished(tc.node); got != tc.want {
			t.Errorf("Finished(phase %q, synced %v, daemoned %v) = %v, want %v",
				tc.node.Phase, tc.node.TaskResultSynced, tc.node.Daemoned, got, tc.want)
		}
	}
}
