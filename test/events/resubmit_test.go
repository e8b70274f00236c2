package events

import (
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/notify"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
)

// TestResubmitThread sends one chain's reports, as the remediator builds
// them, through the webhook EventSource into both notification Sensors:
// every report is posted, all in the thread of the chain's first workflow
// (the rescue of a resubmitted workflow included), each saying what
// happened: rescued → resubmitted with 128Mi → rescued → resubmitted with
// 192Mi → Succeeded; and a chain stopped at its maximum.
func TestResubmitThread(t *testing.T) {
	slack := loadSensor(t, "oom-notification.yaml")
	webhookVariant := loadSensor(t, "oom-notification-webhook.yaml")
	meta := notify.Meta{Cluster: "prod-eu", UIBase: "https://argo.example.com/"}
	chain := func(outcome, wf, phase string, c notify.Chain) cloudevents.Event {
		c.Root, c.MaxAttempts, c.MaxMemory, c.Container = "etl-nightly", 3, "256Mi", "main"
		ev, err := notify.BuildChain(notify.ChainReport{Outcome: outcome, Namespace: "team-a", Workflow: wf, WorkflowUID: "u-" + wf,
			WorkflowPhase: phase, NodeID: wf + "-1", Chain: c}, meta, time.Date(2026, 3, 1, 2, 4, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	second := oomReport(remediate.OutcomeRemediated)
	second.result.Target.Workflow, second.result.ChainRoot = "etl-nightly-oom-1", "etl-nightly"
	for _, tc := range []struct {
		name string
		ev   cloudevents.Event
		want []string
	}{
		{"the rescue", oomReport(remediate.OutcomeRemediated).event(t), []string{"Stuck workflow released", "*Suggested limit:* 128Mi"}},
		{"resubmitted", chain(notify.OutcomeResubmitted, "etl-nightly", "Failed", notify.Chain{Attempt: 1, Previous: "etl-nightly",
			Next: "etl-nightly-oom-1", Template: "transform", MemoryLimit: "64Mi", NewMemoryLimit: "128Mi", Reason: "64Mi ×1.5, rounded up to a whole 64Mi"}),
			[]string{"Resubmitted with more memory", "*Resubmitted as* `etl-nightly-oom-1` with memory limit *128Mi* for container `main` of template `transform` (was 64Mi: 64Mi ×1.5",
				"Chain of `etl-nightly`: attempt 1 of at most 3, memory at most 256Mi.", "https://argo.example.com/workflows/team-a/etl-nightly-oom-1"}},
		{"the rescue of the resubmitted workflow", second.event(t), []string{"Stuck workflow released", "*Workflow*\netl-nightly-oom-1"}},
		{"resubmitted again", chain(notify.OutcomeResubmitted, "etl-nightly-oom-1", "Failed", notify.Chain{Attempt: 2, Previous: "etl-nightly-oom-1",
			Next: "etl-nightly-oom-2", Template: "transform", MemoryLimit: "128Mi", NewMemoryLimit: "192Mi", Reason: "128Mi ×1.5, rounded up to a whole 64Mi"}),
			[]string{"*Resubmitted as* `etl-nightly-oom-2` with memory limit *192Mi*"}},
		{"succeeded", chain(notify.OutcomeResubmitEnded, "etl-nightly-oom-2", "Succeeded", notify.Chain{Attempt: 2, MemoryLimit: "192Mi", Reason: "succeeded"}),
			[]string{"Resubmitted workflow Succeeded", "`etl-nightly-oom-2` ended *Succeeded* with memory limit 192Mi."}},
		{"failed otherwise", chain(notify.OutcomeResubmitEnded, "etl-nightly-oom-2", "Error", notify.Chain{Attempt: 2, MemoryLimit: "192Mi", Reason: "x"}),
			[]string{"Resubmitted workflow ended Error"}},
		{"stopped at the maximum", chain(notify.OutcomeResubmitStopped, "etl-nightly-oom-2", "Failed", notify.Chain{Attempt: 2, MemoryLimit: "256Mi",
			Reason: "main already had 256Mi, the maximum (REMEDIATOR_RESUBMIT_MAX_MEMORY 256Mi)"}),
			[]string{"Not resubmitted", "*Not resubmitted:* main already had 256Mi, the maximum"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ce := deliver(t, tc.ev)
			dep := slack.Spec.Dependencies[0]
			if pass, err := filter(t, dep, ce); !pass || err != nil {
				t.Fatalf("posted %v, error %v", pass, err)
			}
			if pass, _ := filter(t, webhookVariant.Spec.Dependencies[0], ce); !pass {
				t.Error("the webhook variant drops it")
			}
			fired := map[string]cloudevents.Event{dep.Name: ce}
			msg := renderSlack(t, slack, fired)
			if msg.thread != "team-a/etl-nightly" {
				t.Errorf("thread %q, want team-a/etl-nightly", msg.thread)
			}
			all := blockTexts(t, msg.blocks)
			for _, want := range tc.want {
				if !strings.Contains(all, want) {
					t.Errorf("blocks lack %q:\n%s", want, all)
				}
			}
			t.Logf("%s\n%s", msg.text, all)
			if post := renderWebhookPost(t, webhookVariant, fired); post.text != msg.text || len(post.blocks) != len(msg.blocks) {
				t.Errorf("the webhook variant posts other content:\n%s", post.text)
			}
		})
	}
}
