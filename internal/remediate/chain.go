package remediate

import "github.com/argo-oom-remediator/argo-oom-remediator/internal/wfstatus"

// The resubmit chain (internal/resubmit): labels a resubmitted workflow
// carries, read here so that a run's report about any attempt of a chain
// names the chain's first workflow (the Slack thread of every attempt).
const (
	// LabelChainRoot is the name of the chain's first workflow (the one
	// whose OOM started it), on every workflow the remediator resubmitted.
	LabelChainRoot = annotationPrefix + "chain-root"
	// LabelChainAttempt is the attempt number: 1 for the first resubmission.
	LabelChainAttempt = annotationPrefix + "chain-attempt"
	// AnnotationChainRoot is the first workflow's name in full: the label
	// holds at most 63 characters, a workflow name up to 253.
	AnnotationChainRoot = annotationPrefix + "chain-root"
)

// chainRoot is the chain's first workflow when wf was resubmitted by the
// remediator; empty otherwise. The annotation has the name in full, so a
// long root keeps every attempt in its thread; the label alone (shortened
// past 63 characters) is the fallback.
func chainRoot(wf *wfstatus.Workflow) string {
	if wf.Labels[LabelChainRoot] == "" {
		return ""
	}
	if root := wf.Annotations[AnnotationChainRoot]; root != "" {
		return root
	}
	return wf.Labels[LabelChainRoot]
}
