package notify_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/cetest"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/notify"
)

func TestChainEventsMatchTheSchema(t *testing.T) {
	chain := notify.Chain{Root: "etl", Attempt: 1, MaxAttempts: 3, Previous: "etl", Next: "etl-oom-1", Template: "load",
		Container: "main", MemoryLimit: "256Mi", NewMemoryLimit: "384Mi", NewMemoryRequest: "192Mi", MaxMemory: "16Gi",
		Reason: "256Mi ×1.5, rounded up to a whole 64Mi", Created: true}
	stopped := chain
	stopped.Next, stopped.NewMemoryLimit, stopped.NewMemoryRequest, stopped.Reason = "", "", "", "main already had 16Gi, the maximum"
	for _, r := range []notify.ChainReport{
		{Outcome: notify.OutcomeResubmitted, Namespace: "team-a", Workflow: "etl", WorkflowUID: "u", WorkflowPhase: "Failed", NodeID: "etl-1", Chain: chain},
		{Outcome: notify.OutcomeResubmitStopped, Namespace: "team-a", Workflow: "etl-oom-3", WorkflowPhase: "Failed", NodeID: "etl-oom-3-1", Chain: stopped},
		{Outcome: notify.OutcomeResubmitEnded, Namespace: "team-a", Workflow: "etl-oom-1", WorkflowPhase: "Succeeded", Chain: notify.Chain{Root: "etl", Attempt: 1, MaxAttempts: 3, MaxMemory: "16Gi", Reason: "succeeded"}},
	} {
		ev, err := notify.BuildChain(r, notify.Meta{Cluster: "prod", UIBase: "https://argo.example.com/"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := cetest.ValidateEvent(ev.Type(), ev.DataSchema(), ev.Data()); err != nil {
			t.Errorf("%s: %v", r.Outcome, err)
		}
		var d notify.Data
		if err := json.Unmarshal(ev.Data(), &d); err != nil {
			t.Fatal(err)
		}
		if ev.Type() != "io.argo-oom-remediator."+r.Outcome+".v1" || d.ChainRoot != "etl" || d.Chain == nil || d.Trigger != "resubmit" {
			t.Errorf("%s: type %s, data %s", r.Outcome, ev.Type(), ev.Data())
		}
		again, _ := notify.BuildChain(r, notify.Meta{Cluster: "prod"}, time.Now().Add(time.Hour))
		if again.ID() != ev.ID() {
			t.Errorf("%s: the id changes between two reports of the same end", r.Outcome)
		}
	}
	res := oomResult()
	res.ChainRoot = "etl"
	ev, err := notify.Build(res, nil, notify.Meta{Cluster: "prod"}, time.Now())
	if err != nil || cetest.ValidateEvent(ev.Type(), ev.DataSchema(), ev.Data()) != nil {
		t.Fatalf("a rescue of a chain's workflow: %v", err)
	}
	var d notify.Data
	_ = json.Unmarshal(ev.Data(), &d)
	if d.ChainRoot != "etl" {
		t.Errorf("a rescue's report does not name its chain: %s", ev.Data())
	}
}
