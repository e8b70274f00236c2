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
)

// chainRoot is the chain's first workflow when wf was resubmitted by the
// remediator; empty otherwise.
func chainRoot(wf *wfstatus.Workflow) string { return wf.Labels[LabelChainRoot] }
