package notify_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/cetest"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/notify"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestSuggest(t *testing.T) {
	max := resource.MustParse("1Gi")
	for _, c := range []struct {
		limit, want string
		capped      bool
	}{
		{"64Mi", "128Mi", false},  // 96Mi → 128Mi
		{"256Mi", "384Mi", false}, // exact
		{"100M", "192Mi", false},  // 143 MiB → 192Mi
		{"700Mi", "1Gi", true},    // 1050Mi → capped
	} {
		got, capped := notify.Suggest(resource.MustParse(c.limit), max)
		if got.String() != c.want || capped != c.capped {
			t.Errorf("Suggest(%s) = %s, %v; want %s, %v", c.limit, got.String(), capped, c.want, c.capped)
		}
	}
}

func oomResult() remediate.Result {
	code, zero := int32(137), int32(0)
	done := time.Date(2026, 12, 4, 1, 0, 0, 0, time.UTC)
	return remediate.Result{
		Target:  remediate.Target{Namespace: "team-a", Workflow: "etl", NodeID: "etl-1", PodName: "etl-main-1", Trigger: "OOMKilled"},
		Outcome: remediate.OutcomeRemediated, Action: "complete", Reason: "wait-terminated",
		NodeName: "etl[0].load", Template: "load", HostNode: "worker-3", NodePhase: "Failed",
		Containers: []remediate.Container{
			{Name: "wait", ExitCode: &zero, Reason: "Completed"},
			{Name: "main", ExitCode: &code, Reason: "OOMKilled", MemoryLimit: "256Mi", MemoryRequest: "128Mi"},
		},
		NodeFinished: done, Acted: done.Add(40 * time.Second), WorkflowPhase: "Failed", WorkflowFinished: done.Add(50 * time.Second),
	}
}

func TestEventCarriesTheMemoryHintAndMatchesTheSchema(t *testing.T) {
	ev, err := notify.Build(oomResult(), nil, notify.Meta{Cluster: "prod"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := cetest.ValidateEvent(ev.Type(), ev.DataSchema(), ev.Data()); err != nil {
		t.Fatal(err)
	}
	var d notify.Data
	if err := json.Unmarshal(ev.Data(), &d); err != nil {
		t.Fatal(err)
	}
	h := d.Memory
	if h == nil || h.Container != "main" || h.Template != "load" || h.Node != "etl[0].load" || h.HostNode != "worker-3" ||
		h.MemoryLimit != "256Mi" || h.MemoryRequest != "128Mi" || h.SuggestedLimit != "384Mi" ||
		!strings.Contains(h.PodSpecPatch, `"memory":"384Mi"`) || !strings.Contains(h.RetryStrategy, "* 384}}Mi") {
		t.Errorf("hint %+v", h)
	}
	if d.StuckSeconds == nil || *d.StuckSeconds != 40 {
		t.Errorf("stuck %v", d.StuckSeconds)
	}
}

// TestHintMaxCapsTheSuggestion: REMEDIATOR_HINT_MAX_MEMORY reaches the
// event through Meta, and the rule says the cap decided.
func TestHintMaxCapsTheSuggestion(t *testing.T) {
	ev, err := notify.Build(oomResult(), nil, notify.Meta{Cluster: "prod", HintMax: resource.MustParse("320Mi")}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var d notify.Data
	if err := json.Unmarshal(ev.Data(), &d); err != nil {
		t.Fatal(err)
	}
	if h := d.Memory; h == nil || h.SuggestedLimit != "320Mi" || !strings.HasSuffix(h.Rule, "capped at the maximum 320Mi") {
		t.Errorf("hint %+v, want 320Mi capped", h)
	}
}

func TestEveryOutcomeMatchesTheSchema(t *testing.T) {
	noLimit := oomResult()
	noLimit.Containers[1].MemoryLimit = ""
	deleted := oomResult()
	deleted.Containers, deleted.Target.Trigger = nil, "deleted"
	dry := oomResult()
	dry.Outcome = remediate.OutcomeWouldRemediate
	for name, c := range map[string]struct {
		res remediate.Result
		err error
	}{"no limit": {noLimit, nil}, "pod gone": {deleted, nil}, "dry": {dry, nil}, "failed": {oomResult(), errors.New("forbidden")}} {
		ev, err := notify.Build(c.res, c.err, notify.Meta{Cluster: "prod", UIBase: "https://argo.example.com"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := cetest.ValidateEvent(ev.Type(), ev.DataSchema(), ev.Data()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The check can fail: a field the schema does not know.
	if err := cetest.ValidateEvent("io.argo-oom-remediator.remediated.v1", notify.DataSchema, []byte(`{"cluster":"c","bogus":1}`)); err == nil {
		t.Error("invalid data passed")
	}
}
