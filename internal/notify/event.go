package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"k8s.io/apimachinery/pkg/api/resource"
)

// TypePrefix starts every event type; the outcome and a version follow:
// io.argo-oom-remediator.remediated.v1.
const TypePrefix = "io.argo-oom-remediator."

// OutcomeFailed is reported when a run ends in an error.
const OutcomeFailed = "failed"

// Meta is what the events say about where they come from.
type Meta struct {
	Cluster string
	// UIBase is the Argo UI's base URL; empty: no link.
	UIBase string
	DryRun bool
	// HintMax caps the memory hint's suggested limit; zero: DefaultHintMax.
	HintMax resource.Quantity
}

// Data is the event's payload (JSON).
type Data struct {
	Cluster     string `json:"cluster"`
	Namespace   string `json:"namespace"`
	Workflow    string `json:"workflow"`
	WorkflowUID string `json:"workflowUID,omitempty"`
	NodeID      string `json:"nodeID"`
	NodeName    string `json:"nodeName,omitempty"`
	NodePhase   string `json:"nodePhase,omitempty"`
	NodeMessage string `json:"nodeMessage,omitempty"`
	Pod         string `json:"pod,omitempty"`
	PodUID      string `json:"podUID,omitempty"`
	// Trigger is why the run started: OOMKilled, deleted, wait-failed, manual, sweep.
	Trigger    string                `json:"trigger"`
	Containers []remediate.Container `json:"containers,omitempty"`
	// ExitCode and MemoryLimit summarise the container that failed (the
	// OOMKilled one, else main), when the pod was seen.
	ExitCode    *int32 `json:"exitCode,omitempty"`
	MemoryLimit string `json:"memoryLimit,omitempty"`
	Outcome     string `json:"outcome"`
	// Action is complete or create when the run wrote (or would write, in dry-run).
	Action string `json:"action,omitempty"`
	// Decision is the reason of the last decision, e.g. wait-terminated.
	Decision   string `json:"decision,omitempty"`
	Previously bool   `json:"previously,omitempty"`
	Error      string `json:"error,omitempty"`
	// WaitedSeconds is the time from the run's start to the write.
	WaitedSeconds float64 `json:"waitedSeconds"`
	// RecoverySeconds is the time from the node's end to the workflow's end.
	RecoverySeconds *float64 `json:"recoverySeconds,omitempty"`
	WorkflowPhase   string   `json:"workflowPhase,omitempty"`
	UIURL           string   `json:"uiURL,omitempty"`
	DryRun          bool     `json:"dryRun"`
	// NodesStorage is where the workflow keeps its nodes: inline,
	// compressed or offloaded.
	NodesStorage string `json:"nodesStorage,omitempty"`
	// Stuck is true when the run left the workflow held by a false task
	// result entry it could do nothing about (a Warning Event says why).
	Stuck bool `json:"stuck,omitempty"`
	// Memory is the memory hint, when a container was OOMKilled.
	Memory *MemoryHint `json:"memory,omitempty"`
	// StuckSeconds is the time from the node's end to the fix.
	StuckSeconds *float64 `json:"stuckSeconds,omitempty"`
	// ChainRoot is the first workflow of the resubmit chain the workflow
	// belongs to (the Slack thread of every attempt); empty when it was not
	// resubmitted by the remediator.
	ChainRoot string `json:"chainRoot,omitempty"`
	// Chain is what a resubmit report (resubmitted, resubmit-stopped,
	// resubmit-ended) says about the chain.
	Chain *Chain `json:"chain,omitempty"`
}

// DataSchema is the JSON Schema of Data (docs/cloudevent.schema.json), set
// as each event's dataschema.
const DataSchema = "https://github.com/argo-oom-remediator/argo-oom-remediator/blob/main/docs/cloudevent.schema.json"

// Build describes a run. runErr is the run's error, if any.
func Build(res remediate.Result, runErr error, m Meta, now time.Time) (cloudevents.Event, error) {
	t := res.Target
	outcome := string(res.Outcome)
	if runErr != nil {
		outcome = OutcomeFailed
	}
	d := Data{
		Cluster: m.Cluster, Namespace: t.Namespace, Workflow: t.Workflow, WorkflowUID: res.WorkflowUID,
		NodeID: t.NodeID, NodeName: res.NodeName, NodePhase: res.NodePhase, NodeMessage: res.NodeMessage,
		Pod: t.PodName, PodUID: res.PodUID, Trigger: t.Trigger, Containers: res.Containers,
		Outcome: outcome, Action: res.Action, Decision: string(res.Reason), Previously: res.Previously,
		NodesStorage: res.NodesStorage, Stuck: res.Stuck, ChainRoot: res.ChainRoot,
		WaitedSeconds: res.Waited.Seconds(), WorkflowPhase: res.WorkflowPhase, DryRun: m.DryRun,
	}
	if runErr != nil {
		d.Error = runErr.Error()
	} else if res.Err != "" {
		d.Error = res.Err
	}
	if c := failedContainer(res.Containers); c != nil {
		d.ExitCode, d.MemoryLimit = c.ExitCode, c.MemoryLimit
	}
	if !res.NodeFinished.IsZero() && !res.WorkflowFinished.IsZero() && res.WorkflowFinished.After(res.NodeFinished) {
		s := res.WorkflowFinished.Sub(res.NodeFinished).Seconds()
		d.RecoverySeconds = &s
	}
	hintMax := m.HintMax
	if hintMax.IsZero() {
		hintMax = DefaultHintMax
	}
	d.Memory = Hint(res, hintMax)
	if !res.NodeFinished.IsZero() && res.Acted.After(res.NodeFinished) {
		s := res.Acted.Sub(res.NodeFinished).Seconds()
		d.StuckSeconds = &s
	}
	if m.UIBase != "" {
		d.UIURL = UILink(m.UIBase, t.Namespace, t.Workflow, t.NodeID)
	}

	ev := cloudevents.NewEvent()
	ev.SetID(ID(m.Cluster, t.Namespace, t.Workflow, res.WorkflowUID, t.NodeID, outcome, m.DryRun))
	ev.SetType(TypePrefix + outcome + ".v1")
	ev.SetSource("urn:argo-oom-remediator:" + m.Cluster)
	ev.SetSubject(t.Namespace + "/" + t.Workflow + "/" + t.NodeID)
	ev.SetTime(now)
	ev.SetDataSchema(DataSchema)
	if err := ev.SetData(cloudevents.ApplicationJSON, d); err != nil {
		return ev, fmt.Errorf("encoding the event for %s: %w", ev.Subject(), err)
	}
	return ev, ev.Validate()
}

// ID is the deterministic event id of a run's report.
func ID(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%v\x00", p)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// UILink points at the node in the Argo UI.
func UILink(base, namespace, workflow, nodeID string) string {
	return strings.TrimRight(base, "/") + "/workflows/" + url.PathEscape(namespace) + "/" +
		url.PathEscape(workflow) + "?nodeId=" + url.QueryEscape(nodeID)
}

// failedContainer picks the container a person wants to read about: the
// OOMKilled one, else main, else the first that failed.
func failedContainer(cs []remediate.Container) *remediate.Container {
	for _, pick := range []func(remediate.Container) bool{
		func(c remediate.Container) bool { return c.Reason == "OOMKilled" },
		func(c remediate.Container) bool { return c.Name == "main" },
		func(c remediate.Container) bool { return c.ExitCode != nil && *c.ExitCode != 0 },
	} {
		for i := range cs {
			if pick(cs[i]) {
				return &cs[i]
			}
		}
	}
	return nil
}
