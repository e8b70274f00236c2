package config

import (
	"strings"
	"testing"
)

func TestUnknownVariablesAreRefused(t *testing.T) {
	tests := []struct {
		env  string
		want string // "" means accepted
	}{
		{"REMEDIATOR_DRYRUN=true", "REMEDIATOR_DRYRUN: is not a variable of the remediator; did you mean REMEDIATOR_DRY_RUN?"},
		{"REMEDIATOR_GRACE=5s", "REMEDIATOR_GRACE: is not a variable"},
		{"REMEDIATOR_NAMESPCE=x", "did you mean REMEDIATOR_NAMESPACE?"},
		{"REMEDIATOR_SINK_TOKEN=abc", "did you mean REMEDIATOR_SINK_TOKEN_FILE?"},
		{"REMEDIATOR_COMPLETELY_DIFFERENT=1", "REMEDIATOR_COMPLETELY_DIFFERENT: is not a variable of the remediator (see"},
		// Service links Kubernetes injects for a Service named "remediator".
		{"REMEDIATOR_SERVICE_HOST=10.0.0.1", ""},
		{"REMEDIATOR_SERVICE_PORT_HTTPS=443", ""},
		{"REMEDIATOR_PORT=tcp://10.0.0.1:443", ""},
		{"REMEDIATOR_PORT_443_TCP_ADDR=10.0.0.1", ""},
		{"OTHER_DRYRUN=true", ""},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			errs := unknownVariables([]string{"REMEDIATOR_NAMESPACE=a", tt.env})
			switch {
			case tt.want == "" && len(errs) > 0:
				t.Errorf("refused: %v", errs)
			case tt.want != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want)):
				t.Errorf("got %v, want one error containing %q", errs, tt.want)
			}
		})
	}
}

func TestLoadReportsUnknownWithTheRest(t *testing.T) {
	setEnv(t, merge(valid, map[string]string{"REMEDIATOR_DRYRUN": "true", "REMEDIATOR_LOG_LEVEL": "loud"}))
	_, err := Load("")
	if err == nil || !strings.Contains(err.Error(), "REMEDIATOR_DRYRUN") || !strings.Contains(err.Error(), "REMEDIATOR_LOG_LEVEL") {
		t.Fatalf("got %v, want both problems", err)
	}
}

func TestVariablesMatchUsage(t *testing.T) {
	if got := len(Variables()); got != len(fuzzVars) {
		t.Errorf("Variables() lists %d, FuzzLoad sets %d", got, len(fuzzVars))
	}
}
