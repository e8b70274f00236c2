package notify

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// Outcomes of the resubmit reports (internal/resubmit).
const (
	// OutcomeResubmitted: a new workflow was submitted with more memory.
	OutcomeResubmitted = "resubmitted"
	// OutcomeResubmitStopped: the workflow opted in and failed by a rescued
	// OOM, but was not resubmitted (Chain.Reason says why).
	OutcomeResubmitStopped = "resubmit-stopped"
	// OutcomeResubmitEnded: a resubmitted workflow ended (WorkflowPhase).
	OutcomeResubmitEnded = "resubmit-ended"
	// TriggerResubmit is the trigger of the resubmit reports.
	TriggerResubmit = "resubmit"
)

// Chain is a resubmit report's account of the chain.
type Chain struct {
	// Root is the chain's first workflow; Attempt the attempt the report is
	// about (0: the first workflow; for resubmitted, the new one's).
	Root        string `json:"root"`
	Attempt     int    `json:"attempt"`
	MaxAttempts int    `json:"maxAttempts"`
	// Previous is the workflow resubmitted (resubmitted) or the one before
	// this attempt (resubmit-ended); Next the new workflow.
	Previous string `json:"previous,omitempty"`
	Next     string `json:"next,omitempty"`
	// Template and Container whose memory was raised.
	Template  string `json:"template,omitempty"`
	Container string `json:"container,omitempty"`
	// MemoryLimit is what the ended workflow's container had; NewMemoryLimit
	// and NewMemoryRequest what the new one gets; MaxMemory the bound.
	MemoryLimit      string `json:"memoryLimit,omitempty"`
	NewMemoryLimit   string `json:"newMemoryLimit,omitempty"`
	NewMemoryRequest string `json:"newMemoryRequest,omitempty"`
	MaxMemory        string `json:"maxMemory"`
	// Reason is the rule that gave the new limit, or why there is none.
	Reason string `json:"reason"`
	// Created is false when an earlier run had created Next already.
	Created bool `json:"created,omitempty"`
}

// ChainReport is a resubmit report: the workflow that ended, and the chain.
type ChainReport struct {
	Outcome             string
	Namespace, Workflow string
	WorkflowUID         string
	WorkflowPhase       string
	NodeID, NodeName    string
	NodeMessage         string
	WorkflowFinishedAt  time.Time
	Chain               Chain
}

// BuildChain describes a resubmit report. Its id is deterministic (the
// workflow that ended, its UID and the outcome), like a run's.
func BuildChain(r ChainReport, m Meta, now time.Time) (cloudevents.Event, error) {
	c := r.Chain
	d := Data{
		Cluster: m.Cluster, Namespace: r.Namespace, Workflow: r.Workflow, WorkflowUID: r.WorkflowUID,
		NodeID: r.NodeID, NodeName: r.NodeName, NodeMessage: r.NodeMessage, Trigger: TriggerResubmit,
		Outcome: r.Outcome, WorkflowPhase: r.WorkflowPhase, DryRun: m.DryRun, ChainRoot: c.Root, Chain: &c,
		MemoryLimit: c.MemoryLimit,
	}
	link := r.Workflow // the new workflow when there is one
	if c.Next != "" {
		link = c.Next
	}
	if m.UIBase != "" {
		d.UIURL = strings.TrimRight(m.UIBase, "/") + "/workflows/" + url.PathEscape(r.Namespace) + "/" + url.PathEscape(link)
	}
	ev := cloudevents.NewEvent()
	ev.SetID(ID(m.Cluster, r.Namespace, r.Workflow, r.WorkflowUID, r.Outcome))
	ev.SetType(TypePrefix + r.Outcome + ".v1")
	ev.SetSource("urn:argo-oom-remediator:" + m.Cluster)
	ev.SetSubject(r.Namespace + "/" + r.Workflow)
	ev.SetTime(now)
	ev.SetDataSchema(DataSchema)
	if err := ev.SetData(cloudevents.ApplicationJSON, d); err != nil {
		return ev, fmt.Errorf("encoding the %s event for %s: %w", r.Outcome, ev.Subject(), err)
	}
	return ev, ev.Validate()
}
