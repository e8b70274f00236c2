package remediate

import (
	"github.com/argoproj/argo-workflows/v3/workflow/common"
)

// Labels and annotations of Argo Workflows that the remediator reads or writes.
const (
	LabelWorkflow          = common.LabelKeyWorkflow
	LabelCompleted         = common.LabelKeyReportOutputsCompleted
	LabelInstanceID        = common.LabelKeyControllerInstanceID
	AnnotationNodeID       = common.AnnotationKeyNodeID
	WaitContainerName      = common.WaitContainerName
	annotationPrefix       = "argo-oom-remediator.io/"
	AnnotationRemediatedAt = annotationPrefix + "remediated-at"
	AnnotationRemediatedBy = annotationPrefix + "remediated-by"
	AnnotationReason       = annotationPrefix + "reason"
	AnnotationTrigger      = annotationPrefix + "trigger"
	AnnotationAction       = annotationPrefix + "action"
	// AnnotationNudgedAt is put on the Workflow by the optional nudge.
	AnnotationNudgedAt = annotationPrefix + "nudged-at"
	// Component names the remediator in Kubernetes Events.
	Component = "argo-oom-remediator"
)
