package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// valid is a complete, valid environment.
var valid = map[string]string{
	"REMEDIATOR_NAMESPACE": "team-a",
	"REMEDIATOR_WORKFLOW":  "etl-nightly",
	"REMEDIATOR_NODE_ID":   "etl-nightly-3311720384",
}

// withUID is valid with the triggering pod's UID.
var withUID = merge(valid, map[string]string{"REMEDIATOR_POD_UID": "9c1d2f35-1b6e-4a8f-9a51-0d4cbd1e2a77"})

func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
}

func TestLoadDefaults(t *testing.T) {
	setEnv(t, valid)
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.GracePeriod.Duration != 30*time.Second || c.Deadline.Duration != 10*time.Minute ||
		c.VerifyTimeout.Duration != 2*time.Minute || c.Reason != ReasonManual || c.DryRun.Value ||
		c.SinkRetries.Value != 5 || c.LogFormat != "json" || c.ClusterName != "default" {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestValidateNamesEveryBadVariable(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // each must appear in the error
	}{
		{"nothing set", map[string]string{},
			[]string{"REMEDIATOR_NAMESPACE: is required", "REMEDIATOR_WORKFLOW: is required"}},
		{"pod without node", merge(valid, map[string]string{"REMEDIATOR_NODE_ID": "", "REMEDIATOR_POD_NAME": "p"}), []string{"REMEDIATOR_POD_NAME"}},
		{"pod UID without node", merge(valid, map[string]string{"REMEDIATOR_NODE_ID": "", "REMEDIATOR_POD_UID": "9c1d2f35-1b6e-4a8f-9a51-0d4cbd1e2a77"}), []string{"REMEDIATOR_POD_UID: a pod is only meaningful"}},
		{"concurrency", merge(valid, map[string]string{"REMEDIATOR_SWEEP_CONCURRENCY": "0"}), []string{"REMEDIATOR_SWEEP_CONCURRENCY"}},
		{"bad names", map[string]string{"REMEDIATOR_NAMESPACE": "Team_A", "REMEDIATOR_WORKFLOW": "-x", "REMEDIATOR_NODE_ID": strings.Repeat("a", 254), "REMEDIATOR_POD_NAME": "UPPER"},
			[]string{"REMEDIATOR_NAMESPACE", "REMEDIATOR_WORKFLOW", "REMEDIATOR_NODE_ID", "REMEDIATOR_POD_NAME"}},
		{"namespace too long", merge(valid, map[string]string{"REMEDIATOR_NAMESPACE": strings.Repeat("n", 64)}),
			[]string{"REMEDIATOR_NAMESPACE"}},
		{"durations", merge(valid, map[string]string{"REMEDIATOR_GRACE_PERIOD": "soon", "REMEDIATOR_DEADLINE": "-1m", "REMEDIATOR_VERIFY_TIMEOUT": "10", "REMEDIATOR_SINK_TIMEOUT": "0s"}),
			[]string{"REMEDIATOR_GRACE_PERIOD: \"soon\" is not a duration", "REMEDIATOR_DEADLINE: \"-1m\" must be positive", "REMEDIATOR_VERIFY_TIMEOUT", "REMEDIATOR_SINK_TIMEOUT"}},
		{"deadline shorter than grace", merge(valid, map[string]string{"REMEDIATOR_DEADLINE": "10s"}),
			[]string{"REMEDIATOR_DEADLINE: 10s must exceed REMEDIATOR_GRACE_PERIOD"}},
		{"relative sink", merge(valid, map[string]string{"REMEDIATOR_SINK_URL": "/events"}), []string{"REMEDIATOR_SINK_URL"}},
		{"non-http sink", merge(valid, map[string]string{"REMEDIATOR_SINK_URL": "ftp://host/x"}), []string{"REMEDIATOR_SINK_URL"}},
		{"token without sink", merge(valid, map[string]string{"REMEDIATOR_SINK_TOKEN_FILE": "/var/run/token"}), []string{"REMEDIATOR_SINK_TOKEN_FILE"}},
		{"ui url", merge(valid, map[string]string{"REMEDIATOR_ARGO_UI_URL": "argo.example.com"}), []string{"REMEDIATOR_ARGO_UI_URL"}},
		{"enums and flags", merge(valid, map[string]string{"REMEDIATOR_REASON": "because", "REMEDIATOR_LOG_LEVEL": "loud", "REMEDIATOR_LOG_FORMAT": "xml", "REMEDIATOR_DRY_RUN": "maybe", "REMEDIATOR_NUDGE": "2"}),
			[]string{"REMEDIATOR_REASON", "REMEDIATOR_LOG_LEVEL", "REMEDIATOR_LOG_FORMAT", "REMEDIATOR_DRY_RUN", "REMEDIATOR_NUDGE"}},
		{"retries", merge(valid, map[string]string{"REMEDIATOR_SINK_RETRIES": "many"}), []string{"REMEDIATOR_SINK_RETRIES"}},
		{"retries out of range", merge(valid, map[string]string{"REMEDIATOR_SINK_RETRIES": "-1"}), []string{"REMEDIATOR_SINK_RETRIES"}},
		{"cluster name", merge(valid, map[string]string{"REMEDIATOR_CLUSTER_NAME": "Prod EU"}), []string{"REMEDIATOR_CLUSTER_NAME"}},
		{"pod uid", merge(valid, map[string]string{"REMEDIATOR_POD_UID": "not a uid!"}), []string{"REMEDIATOR_POD_UID"}},
		{"wait evidence that does not parse", merge(withUID, map[string]string{"REMEDIATOR_WAIT_EXIT_CODE": "1e+02", "REMEDIATOR_WAIT_FINISHED_AT": "yesterday"}),
			[]string{`REMEDIATOR_WAIT_EXIT_CODE: "1e+02" is not an exit code`, `REMEDIATOR_WAIT_FINISHED_AT: "yesterday" is not an RFC 3339 time`}},
		{"exit code out of int32", merge(withUID, map[string]string{"REMEDIATOR_WAIT_EXIT_CODE": "2147483648"}), []string{"REMEDIATOR_WAIT_EXIT_CODE"}},
		{"wait evidence naming no pod", merge(valid, map[string]string{"REMEDIATOR_WAIT_EXIT_CODE": "137"}),
			[]string{"REMEDIATOR_WAIT_EXIT_CODE: the wait container's evidence must name its pod: REMEDIATOR_POD_UID is required"}},
		{"finish time without exit code", merge(withUID, map[string]string{"REMEDIATOR_WAIT_FINISHED_AT": "2026-12-04T16:52:42Z"}),
			[]string{"REMEDIATOR_WAIT_FINISHED_AT: is set but REMEDIATOR_WAIT_EXIT_CODE is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, tt.env)
			_, err := Load("")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			if got := strings.Count(err.Error(), "\n") + 1; got != len(tt.want) && tt.name != "bad names" {
				t.Errorf("%d problems reported, want %d:\n%v", got, len(tt.want), err)
			}
		})
	}
}

func TestValidAccepted(t *testing.T) {
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	setEnv(t, merge(valid, map[string]string{
		"REMEDIATOR_SINK_URL": "https://events.example.com/remediations", "REMEDIATOR_SINK_TOKEN_FILE": token, "REMEDIATOR_KUBECONFIG": token,
		"REMEDIATOR_ARGO_UI_URL": "https://argo.example.com", "REMEDIATOR_REASON": ReasonOOMKilled, "REMEDIATOR_DRY_RUN": "true",
		"REMEDIATOR_POD_UID": "9c1d2f35-1b6e-4a8f-9a51-0d4cbd1e2a77", "REMEDIATOR_GRACE_PERIOD": "0s",
	}))
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if !c.DryRun.Value || c.GracePeriod.Duration != 0 {
		t.Errorf("%+v", c)
	}
}

// TestWaitEvidence: the Sensor renders an empty exit code and finish time
// when the event did not show wait terminated; a set exit code is the
// proof, for the pod REMEDIATOR_POD_UID only.
func TestWaitEvidence(t *testing.T) {
	tests := []struct {
		name, code, at string
		proof          bool
		exit           int32
	}{
		{"not shown terminated", "", "", false, 0},
		{"OOMKilled wait", "137", "2026-12-04T16:52:42Z", true, 137},
		{"exit 0 (it finished, without finalizing)", "0", "2026-12-04T16:52:42Z", true, 0},
		{"terminated without a finish time", "2", "", true, 2},
		{"negative exit code", "-1", "", true, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, merge(withUID, map[string]string{"REMEDIATOR_WAIT_EXIT_CODE": tt.code, "REMEDIATOR_WAIT_FINISHED_AT": tt.at}))
			c, err := Load("")
			if err != nil {
				t.Fatal(err)
			}
			if c.WaitTerminated() != tt.proof || c.WaitExitCode.Value != tt.exit {
				t.Errorf("WaitTerminated() = %v, exit code %d; want %v, %d", c.WaitTerminated(), c.WaitExitCode.Value, tt.proof, tt.exit)
			}
			if tt.at != "" && c.WaitFinishedAt.Format(time.RFC3339) != tt.at {
				t.Errorf("finished at %v, want %s", c.WaitFinishedAt.Time, tt.at)
			}
		})
	}
	c := Config{Mode: ModeSweep}
	if err := envconfigDefaults(&c); err != nil {
		t.Fatal(err)
	}
	_ = c.WaitExitCode.Decode("137")
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "REMEDIATOR_WAIT_EXIT_CODE: the wait container's evidence is not used by the sweep") {
		t.Errorf("sweep with evidence: %v", err)
	}
}

func TestSweepMode(t *testing.T) {
	c := Config{Mode: ModeSweep}
	if err := envconfigDefaults(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("sweep needs no namespace or workflow: %v", err)
	}
	c.NodeID = "n-1"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "REMEDIATOR_NODE_ID: is not used by the sweep") {
		t.Errorf("got %v", err)
	}
	c.NodeID, c.Mode = "", "bogus"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "unknown mode") {
		t.Errorf("got %v", err)
	}
}

func TestWatchMode(t *testing.T) {
	setEnv(t, map[string]string{"REMEDIATOR_WATCH_INTERVAL": "0s", "REMEDIATOR_METRICS_ADDRESS": "9090"})
	_, err := Load(ModeWatch)
	for _, want := range []string{"REMEDIATOR_WATCH_INTERVAL: \"0s\" must be positive", "REMEDIATOR_METRICS_ADDRESS: \"9090\" is not host:port"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %s", err, want)
		}
	}
	if _, err := Load(ModeSweep); err != nil {
		t.Errorf("the sweep does not use the watch's settings: %v", err)
	}
	t.Setenv("REMEDIATOR_WATCH_INTERVAL", "30s")
	t.Setenv("REMEDIATOR_METRICS_ADDRESS", ":9090")
	if c, err := Load(ModeWatch); err != nil || c.WatchInterval.Duration != 30*time.Second {
		t.Errorf("got %+v, %v", c, err)
	}
}

func TestHintMaxMemory(t *testing.T) {
	setEnv(t, valid)
	c, err := Load("")
	if err != nil || c.HintMaxMemory.Value.String() != "64Gi" {
		t.Fatalf("default: %v, %v", c.HintMaxMemory.Value.String(), err)
	}
	for value, want := range map[string]string{
		"lots": `REMEDIATOR_HINT_MAX_MEMORY: "lots" is not a Kubernetes quantity`,
		"63Mi": `REMEDIATOR_HINT_MAX_MEMORY: "63Mi" must be at least 64Mi`,
		"-1Gi": `REMEDIATOR_HINT_MAX_MEMORY: "-1Gi" must be at least 64Mi`,
	} {
		t.Setenv("REMEDIATOR_HINT_MAX_MEMORY", value)
		if _, err := Load(""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %s", value, err, want)
		}
	}
	t.Setenv("REMEDIATOR_HINT_MAX_MEMORY", "16Gi")
	if c, err := Load(""); err != nil || c.HintMaxMemory.Value.String() != "16Gi" {
		t.Errorf("16Gi: %v, %v", c.HintMaxMemory.Value.String(), err)
	}
}

func envconfigDefaults(c *Config) error {
	mode := c.Mode
	err := envconfig.Process(Prefix, c)
	c.Mode = mode
	return err
}

func TestUsageListsEveryVariable(t *testing.T) {
	var b strings.Builder
	if err := Usage(&b); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"REMEDIATOR_NAMESPACE", "REMEDIATOR_GRACE_PERIOD", "30s", "REMEDIATOR_SINK_URL", "REMEDIATOR_KUBECONFIG", "required"} {
		if !strings.Contains(b.String(), v) {
			t.Errorf("usage lacks %q", v)
		}
	}
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestFilesAreChecked: the sink token file and the kubeconfig must be
// readable regular files, and the token file must not be empty; the error
// names the variable and the path, never the file's content.
func TestFilesAreChecked(t *testing.T) {
	dir := t.TempDir()
	empty, blank := filepath.Join(dir, "empty"), filepath.Join(dir, "blank")
	for path, content := range map[string]string{empty: "", blank: " \n\t\n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sink := map[string]string{"REMEDIATOR_SINK_URL": "https://events.example.com/x"}
	tests := []struct {
		name, key, value, want string
	}{
		{"token file missing", "REMEDIATOR_SINK_TOKEN_FILE", filepath.Join(dir, "nope"), "does not exist"},
		{"token file is a directory", "REMEDIATOR_SINK_TOKEN_FILE", dir, "is not a regular file"},
		{"token file empty", "REMEDIATOR_SINK_TOKEN_FILE", empty, "is empty"},
		{"token file blank", "REMEDIATOR_SINK_TOKEN_FILE", blank, "is empty"},
		{"kubeconfig missing", "REMEDIATOR_KUBECONFIG", filepath.Join(dir, "nope"), "does not exist"},
		{"kubeconfig is a directory", "REMEDIATOR_KUBECONFIG", dir, "is not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, merge(merge(valid, sink), map[string]string{tt.key: tt.value}))
			_, err := Load("")
			if err == nil {
				t.Fatal("no error")
			}
			if want := tt.key + ": " + `"` + tt.value + `" ` + tt.want; err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
		})
	}
}

// TestNoVariableTakesASecret: a token is only ever read from a file, so
// no variable (and no argument: main takes none) carries one.
func TestNoVariableTakesASecret(t *testing.T) {
	var b strings.Builder
	if err := Usage(&b); err != nil {
		t.Fatal(err)
	}
	var tokenVars []string
	for _, line := range strings.Split(b.String(), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		upper := strings.ToUpper(f[0])
		for _, secret := range []string{"TOKEN", "PASSWORD", "SECRET", "KEY", "CREDENTIAL", "AUTH"} {
			if strings.Contains(upper, secret) {
				tokenVars = append(tokenVars, f[0])
				if !strings.HasSuffix(upper, "_FILE") {
					t.Errorf("%s looks like it takes a secret itself; take a file instead", f[0])
				}
			}
		}
	}
	if len(tokenVars) != 1 || tokenVars[0] != "REMEDIATOR_SINK_TOKEN_FILE" {
		t.Errorf("variables about secrets: %v, want only REMEDIATOR_SINK_TOKEN_FILE", tokenVars)
	}
	if !strings.Contains(b.String(), "never the token itself") {
		t.Errorf("the usage does not say the token is never given directly:\n%s", b.String())
	}
}
