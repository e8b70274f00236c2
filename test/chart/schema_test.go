package chart

import (
	"context"
	"strings"
	"testing"
)

// TestSchemaRejects: values.schema.json refuses bad values before anything
// renders, with a message naming the value and what is wrong.
func TestSchemaRejects(t *testing.T) {
	for _, tt := range []struct {
		name   string
		values map[string]any
		msg    []string // all in the error
	}{
		{"unknown scope", map[string]any{"scope": map[string]any{"mode": "everything"}}, []string{"scope", "mode", "namespace", "cluster"}},
		{"empty namespace list", map[string]any{"scope": map[string]any{"mode": "namespaces"}}, []string{"scope", "namespaces"}},
		{"list outside mode namespaces", map[string]any{"scope": map[string]any{"mode": "cluster", "namespaces": []any{"a"}}}, []string{"namespaces", "maxItems"}},
		{"bad namespace name", map[string]any{"scope": map[string]any{"mode": "namespaces", "namespaces": []any{"Team_A"}}}, []string{"namespaces", "Team_A"}},
		{"misspelt top-level key", map[string]any{"gracePeriode": "30s"}, []string{"gracePeriode"}},
		{"bad duration", map[string]any{"gracePeriod": "30 seconds"}, []string{"gracePeriod", "30 seconds"}},
		{"bad digest", map[string]any{"image": map[string]any{"digest": "sha256:abc"}}, []string{"digest", "sha256:abc"}},
		{"webhook without URL", map[string]any{"slack": map[string]any{"mode": "webhook"}}, []string{"slack", "webhookURL"}},
		{"webhook over http", map[string]any{"slack": map[string]any{"mode": "webhook", "webhookURL": "http://hooks.slack.com/x"}}, []string{"webhookURL"}},
		{"UI URL without scheme", map[string]any{"argoUIURL": "argo.example.com"}, []string{"argoUIURL"}},
		{"bad schedule", map[string]any{"sweep": map[string]any{"schedule": "every 5 minutes"}}, []string{"schedule"}},
		{"nudge as text", map[string]any{"nudge": "yes"}, []string{"nudge", "boolean"}},
		{"unknown log level", map[string]any{"log": map[string]any{"level": "verbose"}}, []string{"level"}},
		{"resubmit attempts 0", map[string]any{"resubmit": map[string]any{"maxAttempts": 0}}, []string{"maxAttempts", "minimum"}},
		{"resubmit attempts 11", map[string]any{"resubmit": map[string]any{"maxAttempts": 11}}, []string{"maxAttempts", "maximum"}},
		{"resubmit memory as words", map[string]any{"resubmit": map[string]any{"maxMemory": "lots"}}, []string{"maxMemory", "lots"}},
		{"watch as text", map[string]any{"watch": map[string]any{"enabled": "yes"}}, []string{"enabled", "boolean"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(context.Background(), chartDir(t), "argo", tt.values)
			if err == nil {
				t.Fatalf("values %v rendered; want a schema error", tt.values)
			}
			for _, m := range append([]string{"values don't meet the specifications of the schema"}, tt.msg...) {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error does not mention %q:\n%v", m, err)
				}
			}
		})
	}
}

// TestWatchAndResubmitRefusals: the combinations the chart cannot render
// faithfully fail with a message saying why.
func TestWatchAndResubmitRefusals(t *testing.T) {
	for _, tt := range []struct {
		name   string
		values map[string]any
		msg    string
	}{
		{"resubmit without the watch", map[string]any{"resubmit": map[string]any{"enabled": true}}, "resubmit.enabled needs watch.enabled"},
		{"watch over a namespace list", map[string]any{"watch": map[string]any{"enabled": true},
			"scope": map[string]any{"mode": "namespaces", "namespaces": []any{"team-a"}}}, "scope.mode namespaces is not supported"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(context.Background(), chartDir(t), "argo", tt.values)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %q", err, tt.msg)
			}
		})
	}
}
