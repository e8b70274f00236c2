package resubmit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
)

// What a workflow carries to opt in, and what the remediator records on
// both workflows of a resubmission.
const (
	prefix = "argo-oom-remediator.io/"
	// KeyOptIn, as a label or an annotation of value "true" on the
	// Workflow or on the WorkflowTemplate of its spec.workflowTemplateRef,
	// turns the resubmit on for it. The new workflows inherit it.
	KeyOptIn = prefix + "resubmit"
	// On the new workflow: the chain's first workflow (label, also read by
	// every rescue's report to thread its notification) and the attempt.
	LabelChainRoot    = remediate.LabelChainRoot
	LabelChainAttempt = remediate.LabelChainAttempt
	// On the new workflow: what it was made from and with what.
	AnnotationChainRoot    = remediate.AnnotationChainRoot
	AnnotationChainRootUID = prefix + "chain-root-uid"
	AnnotationPrevious     = prefix + "resubmit-of"
	AnnotationPreviousUID  = prefix + "resubmit-of-uid"
	AnnotationNode         = prefix + "resubmit-node"
	AnnotationTemplate     = prefix + "resubmit-template"
	AnnotationMemory       = prefix + "resubmit-memory"
	// On the previous workflow, once decided: what was done (label
	// "resubmitted", "stopped" or "ended": the watch lists the chain's
	// workflows not yet handled by it), why, and as which workflow.
	LabelHandled            = prefix + "resubmit-handled"
	AnnotationResubmittedAs = prefix + "resubmitted-as"
	AnnotationReason        = prefix + "resubmit-reason"
)

// Argo's labels (workflow/common) that its resubmit reads or writes.
const (
	labelCreator                  = "workflows.argoproj.io/creator"
	labelCreatorEmail             = "workflows.argoproj.io/creator-email"
	labelCreatorPreferredUsername = "workflows.argoproj.io/creator-preferred-username"
	labelPhase                    = "workflows.argoproj.io/phase"
	labelCompleted                = "workflows.argoproj.io/completed"
	labelArchivingStatus          = "workflows.argoproj.io/workflow-archiving-status"
	labelPrevious                 = "workflows.argoproj.io/resubmitted-from-workflow"
)

// maxName is the longest workflow name kept whole: Argo puts the name in
// label values (the pods' workflows.argoproj.io/workflow), 63 at most.
const maxName = 63

// Name is the name of attempt n of the chain that started with root:
// <root>-oom-<n>, or, when that is longer than 63, root cut short and an
// 8-hex hash of the whole root before the suffix. Deterministic: whoever
// resubmits attempt n of this chain (a Job retry, another replica) asks for
// the same name, and the API server creates it once.
func Name(root string, n int) string {
	return shorten(root, fmt.Sprintf("-oom-%d", n))
}

// labelValue is root as a label value (63 at most).
func labelValue(root string) string { return shorten(root, "") }

func shorten(s, suffix string) string {
	if len(s)+len(suffix) <= maxName {
		return s + suffix
	}
	sum := sha256.Sum256([]byte(s))
	keep := strings.TrimRight(s[:maxName-len(suffix)-9], "-.")
	return keep + "-" + hex.EncodeToString(sum[:])[:8] + suffix
}
