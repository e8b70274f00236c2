package wfstatus

import wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

// Finished tells whether the controller is done running node: it
// succeeded, failed, errored, was skipped or omitted, or is a daemoned node
// past Pending. This is what NodeStatus.Fulfilled meant up to Argo v3.6.
// From v3.7 the library's Fulfilled is also false for a completed node
// whose TaskResultSynced is false — exactly the node held by a false task
// result that the remediator looks for — so the remediator asks this
// instead, and means the same thing whichever Argo library it is built with
// and whichever controller wrote the status.
func Finished(node wfv1.NodeStatus) bool {
	switch node.Phase {
	case wfv1.NodeSucceeded, wfv1.NodeFailed, wfv1.NodeError, wfv1.NodeSkipped, wfv1.NodeOmitted:
		return true
	}
	return node.IsDaemoned() && node.Phase != wfv1.NodePending
}

// PhaseFinished is Finished for a phase alone (no daemon).
func PhaseFinished(phase wfv1.NodePhase) bool {
	return Finished(wfv1.NodeStatus{Phase: phase})
}
