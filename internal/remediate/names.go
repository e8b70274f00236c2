package remediate

// Labels and annotations of Argo Workflows that the remediator reads or
// writes. They are Argo's own (workflow/common), spelled out here because
// importing that package would double the program's dependencies and memory;
// names_test.go checks they match.
const (
	LabelWorkflow          = "workflows.argoproj.io/workflow"
	LabelCompleted         = "workflows.argoproj.io/report-outputs-completed"
	LabelWorkflowCompleted = "workflows.argoproj.io/completed"
	LabelInstanceID        = "workflows.argoproj.io/controller-instanceid"
	AnnotationNodeID       = "workflows.argoproj.io/node-id"
	WaitContainerName      = "wait"
)

// What the remediator leaves on the objects it writes.
const (
	annotationPrefix       = "argo-oom-remediator.io/"
	AnnotationRemediatedAt = annotationPrefix + "remediated-at"
	AnnotationRemediatedBy = annotationPrefix + "remediated-by"
	AnnotationReason       = annotationPrefix + "reason"
	AnnotationTrigger      = annotationPrefix + "trigger"
	AnnotationAction       = annotationPrefix + "action"
	// On the remediator's Kubernetes Events: the node the Event is about and
	// when it ended (with AnnotationTrigger), read by `remediator watch`.
	AnnotationEventNode         = annotationPrefix + "node-id"
	AnnotationEventNodeFinished = annotationPrefix + "node-finished-at"
	// AnnotationNudgedAt is put on the Workflow by the optional nudge.
	AnnotationNudgedAt = annotationPrefix + "nudged-at"
	// Component names the remediator in Kubernetes Events.
	Component = "argo-oom-remediator"
)
