package wfstatus

import (
	"encoding/json"
	"fmt"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Workflow is what the remediator decides on: the identity and phase of an
// Argo Workflow, its completion entries, and its nodes, read lazily.
type Workflow struct {
	Namespace, Name string
	UID             types.UID
	ResourceVersion string
	Labels          map[string]string
	Annotations     map[string]string
	Phase           wfv1.WorkflowPhase
	FinishedAt      time.Time
	// Completion is status.taskResultsCompletionStatus: node ID → whether
	// its task result reported outputs completed.
	Completion map[string]bool
	Nodes      Nodes
}

// wire is the JSON of a Workflow as far as Workflow needs it; every other
// field (spec, stored templates, managed fields) is skipped while decoding.
type wire struct {
	Metadata struct {
		Name            string            `json:"name"`
		Namespace       string            `json:"namespace"`
		UID             types.UID         `json:"uid"`
		ResourceVersion string            `json:"resourceVersion"`
		Labels          map[string]string `json:"labels"`
		Annotations     map[string]string `json:"annotations"`
	} `json:"metadata"`
	Status struct {
		Phase                       wfv1.WorkflowPhase `json:"phase"`
		FinishedAt                  metav1.Time        `json:"finishedAt"`
		Nodes                       json.RawMessage    `json:"nodes"`
		CompressedNodes             string             `json:"compressedNodes"`
		OffloadNodeStatusVersion    string             `json:"offloadNodeStatusVersion"`
		TaskResultsCompletionStatus map[string]bool    `json:"taskResultsCompletionStatus"`
	} `json:"status"`
}

func (w *wire) workflow() *Workflow {
	m, s := &w.Metadata, &w.Status
	return &Workflow{
		Namespace: m.Namespace, Name: m.Name, UID: m.UID, ResourceVersion: m.ResourceVersion, Labels: m.Labels,
		Annotations: m.Annotations, Phase: s.Phase, FinishedAt: s.FinishedAt.Time, Completion: s.TaskResultsCompletionStatus,
		Nodes: nodesOf(s.Nodes, nil, s.CompressedNodes, s.OffloadNodeStatusVersion),
	}
}

// Decode reads one Workflow object's JSON.
func Decode(data []byte) (*Workflow, error) {
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("decoding a workflow: %w", err)
	}
	return w.workflow(), nil
}

// DecodeList reads a WorkflowList's JSON: its items and its resourceVersion.
func DecodeList(data []byte) ([]*Workflow, string, error) {
	var list struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Items []wire `json:"items"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, "", fmt.Errorf("decoding a workflow list: %w", err)
	}
	out := make([]*Workflow, len(list.Items))
	for i := range list.Items {
		out[i] = list.Items[i].workflow()
	}
	return out, list.Metadata.ResourceVersion, nil
}

// FromTyped views an already decoded Workflow; its nodes are used as they
// are (status.nodes) or read from status.compressedNodes when asked for.
func FromTyped(wf *wfv1.Workflow) *Workflow {
	return &Workflow{
		Namespace: wf.Namespace, Name: wf.Name, UID: wf.UID, ResourceVersion: wf.ResourceVersion, Labels: wf.Labels,
		Annotations: wf.Annotations, Phase: wf.Status.Phase, FinishedAt: wf.Status.FinishedAt.Time, Completion: wf.Status.TaskResultsCompletionStatus,
		Nodes: nodesOf(nil, wf.Status.Nodes, wf.Status.CompressedNodes, wf.Status.OffloadNodeStatusVersion),
	}
}
