package events

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/sensors/triggers"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"k8s.io/utils/ptr"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/notify"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
)

// report is a remediator run's CloudEvent, built by the remediator's own
// notify.Build.
type report struct {
	result remediate.Result
	err    error
	meta   notify.Meta
}

func (r report) event(t *testing.T) cloudevents.Event {
	t.Helper()
	ev, err := notify.Build(r.result, r.err, r.meta, time.Date(2026, 3, 1, 2, 4, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// oomReport is the report of a run that released etl-nightly.
func oomReport(outcome remediate.Outcome) report {
	finished := time.Date(2026, 3, 1, 2, 3, 30, 0, time.UTC)
	return report{
		result: remediate.Result{
			Target: remediate.Target{Namespace: "team-a", Workflow: "etl-nightly", NodeID: "etl-nightly-3311720384",
				PodName: "etl-nightly-main-3311720384", PodUID: "0b6f4a39-86d4-4a43-9c53-1c7f0d1b2f11", Trigger: "OOMKilled"},
			Outcome: outcome, Action: "complete", Reason: decide.ReasonWaitTerminated,
			WorkflowUID: "5c9a3c0e-1f55-4b7e-9a3f-7b4f1a0e9d21", NodeName: "etl-nightly[0].transform",
			NodePhase: "Failed", NodeMessage: "OOMKilled (exit code 137)", Template: "transform", HostNode: "ip-10-0-3-17", PodUID: "0b6f4a39-86d4-4a43-9c53-1c7f0d1b2f11",
			Containers: []remediate.Container{
				{Name: "wait", ExitCode: ptr.To[int32](137), Reason: "Error"},
				{Name: "main", ExitCode: ptr.To[int32](137), Reason: "OOMKilled", MemoryLimit: "64Mi"},
			},
			Waited: 2 * time.Second, NodeFinished: finished, WorkflowFinished: finished.Add(12400 * time.Millisecond),
			WorkflowPhase: "Failed",
		},
		meta: notify.Meta{Cluster: "prod-eu", UIBase: "https://argo.example.com/"},
	}
}

// deliver sends ev as the remediator does (notify.Sender: structured mode
// over HTTP) to the remediator-notifications EventSource and returns the
// event that source dispatches.
func deliver(t *testing.T, ev cloudevents.Event) cloudevents.Event {
	t.Helper()
	es := loadEventSource(t, "remediator-notifications.yaml")
	got := make(chan []byte, 1)
	srv := httptest.NewServer(webhookHandler(t, es, "remediations", got))
	defer srv.Close()
	client, err := notify.NewHTTPClient(srv.URL+"/remediations", "", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sender := notify.Sender{Client: client, Log: slog.New(slog.DiscardHandler)}
	if err := sender.Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	return dispatch(t, v1alpha1.WebhookEvent, es.Name, "remediations", <-got)
}

// slackMessage is what the Slack trigger would post.
type slackMessage struct {
	text, thread string
	blocks       []map[string]any
}

func renderSlack(t *testing.T, s *v1alpha1.Sensor, fired map[string]cloudevents.Event) slackMessage {
	t.Helper()
	tmpl := applyTemplate(t, s.Spec.Triggers[0], fired)
	m := slackMessage{text: tmpl.Slack.Message, thread: tmpl.Slack.Thread.MessageAggregationKey}
	if err := json.Unmarshal([]byte(tmpl.Slack.Blocks), &m.blocks); err != nil {
		t.Fatalf("blocks are not a JSON array: %v\n%s", err, tmpl.Slack.Blocks)
	}
	return m
}

// renderWebhookPost is the body the http trigger of the webhook variant
// would POST (pkg/sensors/triggers/http Execute: ConstructPayload).
func renderWebhookPost(t *testing.T, s *v1alpha1.Sensor, fired map[string]cloudevents.Event) slackMessage {
	t.Helper()
	tmpl := applyTemplate(t, s.Spec.Triggers[0], fired)
	body, err := triggers.ConstructPayload(argoEvents(fired), tmpl.HTTP.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var post struct {
		Text   string           `json:"text"`
		Blocks []map[string]any `json:"blocks"`
	}
	if err := json.Unmarshal(body, &post); err != nil {
		t.Fatalf("POST body is not Slack webhook JSON: %v\n%s", err, body)
	}
	return slackMessage{text: post.Text, blocks: post.Blocks}
}

// TestNotifications sends the remediator's own reports through the webhook
// EventSource into both notification Sensors.
func TestNotifications(t *testing.T) {
	slack := loadSensor(t, "oom-notification.yaml")
	webhookVariant := loadSensor(t, "oom-notification-webhook.yaml")
	const link = "https://argo.example.com/workflows/team-a/etl-nightly?nodeId=etl-nightly-3311720384"

	failed := oomReport(remediate.OutcomeNotStuck)
	failed.err = errors.New(`patching task result <etl-nightly-3311720384>: "forbidden" & more`)
	failed.result.Containers, failed.result.WorkflowFinished = nil, time.Time{}
	failed.meta.UIBase = ""
	dryRun := oomReport(remediate.OutcomeWouldRemediate)
	dryRun.meta.DryRun = true
	rerun := oomReport(remediate.OutcomeRerunByArgo)
	rerun.result.Action, rerun.result.Reason, rerun.result.WorkflowFinished = "", "pod-replaced", time.Time{}
	repeated := oomReport(remediate.OutcomeRemediated)
	repeated.result.Previously = true

	cases := []struct {
		name   string
		report report
		want   []string // in the blocks; nil: not posted
		absent []string
	}{
		{"remediated OOM is posted with every detail", oomReport(remediate.OutcomeRemediated),
			[]string{"Stuck workflow released", "*Workflow*\netl-nightly", "*Namespace*\nteam-a", "*Node*\netl-nightly[0].transform",
				"*Trigger*\nOOMKilled", "*Exit code*\n137", "*Memory limit*\n64Mi", "*Outcome*\nremediated",
				"*Time to recover*\n12s", "*Cluster*\nprod-eu", link, "decision wait-terminated",
				"*Memory:* container `main` of template `transform` was OOMKilled at limit 64Mi, request none, on node ip-10-0-3-17.",
				"*Suggested limit:* 128Mi (64Mi ×1.5, rounded up to a whole 64Mi).",
				"```podSpecPatch: '{\"containers\":[{\"name\":\"main\",\"resources\":{\"limits\":{\"memory\":\"128Mi\"},\"requests\":{\"memory\":\"128Mi\"}}}]}'```",
				"Or more memory on each retry:\n```retryStrategy:"}, nil},
		{"unverified release is posted", oomReport(remediate.OutcomeRemediatedUnverified),
			[]string{"completion not seen yet", "*Outcome*\nremediated-unverified"}, nil},
		{"dry run is posted as such", dryRun, []string{"Would release", "*Outcome*\nwould-remediate", "dry run"}, nil},
		{"failed run is posted with its error, escaped", failed,
			[]string{"Remediation failed", "*Outcome*\nfailed", "*Exit code*\nn/a", "*Memory limit*\nn/a",
				"*Time to recover*\nnot measured", `&lt;etl-nightly-3311720384&gt;: "forbidden" &amp; more`},
			[]string{"Open in Argo UI", "*Memory:*"}},
		{"a rerun by Argo is posted with the memory hint", rerun,
			[]string{"Argo reruns the step with the same resources", "*Outcome*\nrerun-by-argo", "*Suggested limit:* 128Mi",
				"decision pod-replaced"}, nil},
		{"not-stuck is not posted", oomReport(remediate.OutcomeNotStuck), nil, nil},
		{"workflow-gone is not posted", oomReport(remediate.OutcomeWorkflowGone), nil, nil},
		{"already-complete is not posted", oomReport(remediate.OutcomeAlreadyComplete), nil, nil},
		{"a repeated report is not posted", repeated, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ce := deliver(t, tc.report.event(t))
			dep := slack.Spec.Dependencies[0]
			pass, err := filter(t, dep, ce)
			if err != nil {
				t.Fatalf("filter error (the Sensor would log a warning): %v", err)
			}
			if variantPass, _ := filter(t, webhookVariant.Spec.Dependencies[0], ce); variantPass != pass {
				t.Errorf("the webhook variant's filter says %v, the Slack Sensor's %v", variantPass, pass)
			}
			if want := tc.want != nil; pass != want {
				t.Fatalf("posted = %v, want %v", pass, want)
			}
			if !pass {
				return
			}
			fired := map[string]cloudevents.Event{dep.Name: ce}
			msg := renderSlack(t, slack, fired)
			all := blockTexts(t, msg.blocks)
			for _, want := range tc.want {
				if !strings.Contains(all, want) {
					t.Errorf("blocks lack %q:\n%s", want, all)
				}
			}
			for _, unwanted := range tc.absent {
				if strings.Contains(all, unwanted) {
					t.Errorf("blocks contain %q:\n%s", unwanted, all)
				}
			}
			if msg.thread != "team-a/etl-nightly" {
				t.Errorf("thread key = %q, want team-a/etl-nightly", msg.thread)
			}
			if want := "for team-a/etl-nightly, node etl-nightly[0].transform (trigger OOMKilled)"; !strings.Contains(msg.text, want) {
				t.Errorf("message = %q, want it to contain %q", msg.text, want)
			}

			post := renderWebhookPost(t, webhookVariant, fired)
			if post.text != msg.text || !reflect.DeepEqual(post.blocks, msg.blocks) {
				t.Errorf("the webhook variant posts other content than the Slack Sensor:\n%s\n%v", post.text, post.blocks)
			}
		})
	}

	t.Run("a sweep summary is not posted", func(t *testing.T) {
		ev, err := notify.BuildSweep(notify.SweepSummary{Cluster: "prod-eu", Workflows: 12, Remediated: 1}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if pass, err := filter(t, slack.Spec.Dependencies[0], deliver(t, ev)); pass || err != nil {
			t.Errorf("posted = %v, error %v; want quietly dropped", pass, err)
		}
	})

	t.Run("a request that is not a CloudEvent is dropped", func(t *testing.T) {
		es := loadEventSource(t, "remediator-notifications.yaml")
		got := make(chan []byte, 1)
		srv := httptest.NewServer(webhookHandler(t, es, "remediations", got))
		defer srv.Close()
		resp, err := http.Post(srv.URL+"/remediations", "application/json", strings.NewReader(`{"text":"hello"}`))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		ce := dispatch(t, v1alpha1.WebhookEvent, es.Name, "remediations", <-got)
		if pass, _ := filter(t, slack.Spec.Dependencies[0], ce); pass {
			t.Error("posted")
		}
	})
}

// blockTexts joins every "text" and "url" string found in the blocks, and
// checks the Block Kit limits the notifications rely on.
func blockTexts(t *testing.T, blocks []map[string]any) string {
	t.Helper()
	if len(blocks) == 0 || blocks[0]["type"] != "header" {
		t.Fatalf("first block is not a header: %v", blocks)
	}
	var texts []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if fields, ok := v["fields"].([]any); ok && len(fields) > 10 {
				t.Errorf("a section has %d fields; Slack allows 10", len(fields))
			}
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "text" || k == "url") {
					texts = append(texts, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	for _, b := range blocks {
		walk(b)
	}
	return strings.Join(texts, "\n")
}
