package resubmit

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/notify"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Action is what to do with a workflow that ended.
type Action string

const (
	// None: not the remediator's to act on (not opted in, not ended, not
	// failed by a rescued OOM, or already handled); nothing is written.
	None Action = ""
	// Resubmit: submit Decision.Name with Decision.NewLimit.
	Resubmit Action = "resubmit"
	// Stop: it opted in and failed by a rescued OOM, but is not resubmitted;
	// Decision.Reason says why (the notification says it too).
	Stop Action = "stop"
)

// Limits bound a chain.
type Limits struct {
	// MaxMemory is the largest memory limit a resubmission gets.
	MaxMemory resource.Quantity
	// MaxAttempts is the number of resubmissions of one chain.
	MaxAttempts int
}

// Input is what Decide looks at.
type Input struct {
	Workflow *wfv1.Workflow
	// OptedIn: KeyOptIn is "true" on the workflow or its WorkflowTemplate.
	OptedIn bool
	// Rescued are the node IDs the remediator rescued on this workflow (its
	// Kubernetes Events on it).
	Rescued []string
	Limits  Limits
}

// Decision is what to do and everything the records and the notification
// say about it.
type Decision struct {
	Action Action
	Reason string
	// Root and RootUID name the chain's first workflow; Attempt is the
	// workflow's own attempt (0: the first) and Name the next one's name.
	Root, RootUID string
	Attempt       int
	Name          string
	// Node is the rescued node; Template its template; Container "main".
	Node, NodeName, Template, Container string
	OldLimit, NewLimit                  resource.Quantity
	OldRequest, NewRequest              *resource.Quantity
	// Capped: the rule gave more than MaxMemory.
	Capped bool
}

// IsMember tells whether wf was resubmitted by the remediator.
func IsMember(wf *wfv1.Workflow) bool { return wf.Labels[LabelChainRoot] != "" }

// OptedIn tells whether labels or annotations carry the opt-in.
func OptedIn(labels, annotations map[string]string) bool {
	return labels[KeyOptIn] == "true" || annotations[KeyOptIn] == "true"
}

// Decide says whether the ended workflow is resubmitted. Only a workflow
// that opted in, ended Failed or Error with exactly one failed pod, that
// pod's node rescued by the remediator and ended OOMKilled, whose template
// can be patched safely (Patchable), within the limits, is.
func Decide(in Input) Decision {
	wf := in.Workflow
	d := Decision{Root: wf.Name, RootUID: string(wf.UID), Container: "main"}
	if IsMember(wf) {
		d.Root, d.RootUID = wf.Labels[LabelChainRoot], wf.Annotations[AnnotationChainRootUID]
		if root := wf.Annotations[AnnotationChainRoot]; root != "" {
			d.Root = root // the label may be cut short (63)
		}
		d.Attempt, _ = strconv.Atoi(wf.Labels[LabelChainAttempt])
	}
	switch {
	case !in.OptedIn:
		return d.none("not opted in")
	case !wf.Status.Phase.Completed():
		return d.none("still running")
	case wf.Labels[LabelHandled] != "":
		return d.none("already handled: " + wf.Labels[LabelHandled])
	case wf.Status.Phase == wfv1.WorkflowSucceeded:
		return d.none("succeeded")
	}
	failed := failedPods(wf)
	var rescued []wfv1.NodeStatus
	for _, n := range failed {
		if slices.Contains(in.Rescued, n.ID) {
			rescued = append(rescued, n)
		}
	}
	if len(rescued) == 0 {
		return d.none("no failed node was rescued by the remediator")
	}
	node := rescued[0]
	d.Node, d.NodeName, d.Template = node.ID, node.DisplayName, node.TemplateName
	if len(failed) > 1 {
		return d.stop(fmt.Sprintf("%d pods failed, not only the rescued one: more memory for one step would not be enough", len(failed)))
	}
	if !strings.Contains(node.Message, "OOMKilled") {
		return d.stop(fmt.Sprintf("the rescued node did not end OOMKilled (%q)", node.Message))
	}
	c, why := Patchable(wf, node)
	if c == nil {
		return d.stop(why)
	}
	next := d.Attempt + 1
	if next > in.Limits.MaxAttempts {
		return d.stop(fmt.Sprintf("the chain reached its maximum of %d resubmissions (REMEDIATOR_RESUBMIT_MAX_ATTEMPTS)", in.Limits.MaxAttempts))
	}
	limit, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok || limit.Value() <= 0 {
		return d.stop("container main has no memory limit to raise")
	}
	d.OldLimit = limit
	if limit.Cmp(in.Limits.MaxMemory) >= 0 {
		return d.stop(fmt.Sprintf("main already had %s, the maximum (REMEDIATOR_RESUBMIT_MAX_MEMORY %s)", limit.String(), in.Limits.MaxMemory.String()))
	}
	d.NewLimit, d.Capped = notify.Suggest(limit, in.Limits.MaxMemory)
	if req, ok := c.Resources.Requests[corev1.ResourceMemory]; ok {
		old := req.DeepCopy()
		nr, _ := notify.Suggest(req, d.NewLimit)
		d.OldRequest, d.NewRequest = &old, &nr
	}
	d.Action, d.Attempt, d.Name = Resubmit, next, Name(d.Root, next)
	d.Reason = fmt.Sprintf("%s ×1.5, rounded up to a whole 64Mi", limit.String())
	if d.Capped {
		d.Reason += fmt.Sprintf(", capped at the maximum %s", in.Limits.MaxMemory.String())
	}
	return d
}

func (d Decision) none(reason string) Decision {
	d.Action, d.Reason = None, reason
	return d
}

func (d Decision) stop(reason string) Decision {
	d.Action, d.Reason = Stop, reason
	return d
}

// failedPods are the pod nodes that ended Failed or Error, by ID.
func failedPods(wf *wfv1.Workflow) []wfv1.NodeStatus {
	var out []wfv1.NodeStatus
	for _, n := range wf.Status.Nodes {
		if n.Type == wfv1.NodeTypePod && (n.Phase == wfv1.NodeFailed || n.Phase == wfv1.NodeError) {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b wfv1.NodeStatus) int { return strings.Compare(a.ID, b.ID) })
	return out
}
