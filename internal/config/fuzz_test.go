package config

import (
	"net"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

// fuzzVars are the variables FuzzLoad sets, in the order of its arguments.
// TestFuzzLoadCoversEveryVariable keeps the list complete.
var fuzzVars = []string{
	"NAMESPACE", "WORKFLOW", "NODE_ID", "POD_NAME", "POD_UID", "REASON",
	"GRACE_PERIOD", "DEADLINE", "VERIFY_TIMEOUT",
	"SINK_URL", "SINK_TOKEN_FILE", "SINK_TIMEOUT", "SINK_RETRIES", "CLUSTER_NAME", "ARGO_UI_URL",
	"SWEEP_CONCURRENCY", "DRY_RUN", "NUDGE", "LOG_LEVEL", "LOG_FORMAT", "KUBECONFIG",
	"WAIT_EXIT_CODE", "WAIT_FINISHED_AT", "HINT_MAX_MEMORY",
	// Set from the values of other arguments (see reused): they need no
	// argument of their own.
	"WATCH_INTERVAL", "METRICS_ADDRESS", "RESUBMIT", "RESUBMIT_MAX_MEMORY", "RESUBMIT_MAX_ATTEMPTS",
	"PODS_ADDRESS",
}

// reused gives, for each variable past FuzzLoad's own arguments, the
// argument whose value it takes: the watch's interval the verify timeout's
// (a duration), its metrics address the cluster name's; the resubmit's
// switch the dry run's, its memory bound the hint's, its attempts the sink
// retries'; the pod watcher's address the cluster name's too.
var reused = []int{8, 13, 16, 23, 12, 13}

// minHintMaxBytes is minHintMax in bytes, for checkUsable.
const minHintMaxBytes = 64 << 20

// FuzzLoad feeds arbitrary values to every variable, in every mode. Load
// never panics; every problem it reports names a REMEDIATOR_ variable; and a
// configuration it accepts is one the remediator can use: valid Kubernetes
// names, an absolute http(s) sink, non-negative durations with the deadline
// past the grace period, bounded retries and concurrency.
//
// The seeds below are the corpus; what `make fuzz` generates stays in the Go
// cache. testdata/fuzz/FuzzLoad, when it exists, holds only regressions: an
// input that once failed, renamed after what it covers.
func FuzzLoad(f *testing.F) {
	f.Add(false, "team-a", "etl", "etl-1", "etl-1-pod", "3f1c0b52-6e0e-4c8e-9d7e-1a2b3c4d5e6f", "OOMKilled",
		"30s", "10m", "2m", "https://sink.example.com/x", "", "10s", "5", "prod", "https://argo.example.com",
		"4", "false", "true", "info", "json", "", "137", "2026-12-04T16:52:42Z", "16Gi")
	f.Add(true, "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "")
	f.Add(false, "Bad_NS", "-", strings.Repeat("x", 300), "UPPER", "uid with spaces", "because",
		"-1s", "soon", "10", "/rel", "/var/run/token", "0s", "-1", "Not A Name", "argo.example.com",
		"0", "maybe", "yes", "loud", "xml", "/nonexistent/kubeconfig", "1e+02", "yesterday", "63Mi")
	f.Add(false, "ns", "wf", "", "pod", "", "deleted", "1h", "1h", "0s", "http://[::1", "", "1ns", "21",
		"a.b", "ftp://h", "65", "1", "0", "debug", "text", "", "", "2026-12-04T16:52:42Z", "-1Gi")
	f.Fuzz(func(t *testing.T, sweep bool, ns, wf, node, pod, uid, reason, grace, deadline, verify,
		sink, tokenFile, sinkTimeout, retries, cluster, ui, concurrency, dry, nudge, level, format, kubeconfig,
		waitExit, waitAt, hintMax string) {
		values := []string{ns, wf, node, pod, uid, reason, grace, deadline, verify, sink, tokenFile, sinkTimeout,
			retries, cluster, ui, concurrency, dry, nudge, level, format, kubeconfig, waitExit, waitAt, hintMax}
		for _, i := range reused {
			values = append(values, values[i])
		}
		for i, v := range values {
			if strings.ContainsRune(v, 0) {
				t.Skip("environment values cannot hold NUL")
			}
			t.Setenv(Prefix+"_"+fuzzVars[i], v)
		}
		mode := ""
		if sweep {
			mode = []string{ModeSweep, ModeWatch, ModePods}[len(cluster)%3]
		}
		c, err := Load(mode)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, Prefix+"_") && !strings.HasPrefix(line, "reading the environment") {
					t.Fatalf("a problem that names no variable: %q", line)
				}
			}
			return
		}
		checkUsable(t, c)
	})
}

// checkUsable fails when an accepted configuration could not be used.
func checkUsable(t *testing.T, c Config) {
	t.Helper()
	bad := func(what string, v any) { t.Fatalf("accepted an unusable %s: %q (%+v)", what, v, c) }
	if c.Mode == "" && (c.Namespace == "" || c.Workflow == "") {
		bad("target", c.Namespace+"/"+c.Workflow)
	}
	for _, n := range []string{c.Workflow, c.NodeID, c.PodName} {
		if n != "" && len(validation.IsDNS1123Subdomain(n)) > 0 {
			bad("name", n)
		}
	}
	if c.Namespace != "" && len(validation.IsDNS1123Label(c.Namespace)) > 0 {
		bad("namespace", c.Namespace)
	}
	if c.SinkURL != "" && absoluteHTTP(c.SinkURL) != nil {
		bad("sink URL", c.SinkURL)
	}
	if c.GracePeriod.Duration < 0 || c.VerifyTimeout.Duration < 0 || c.SinkTimeout.Duration <= 0 ||
		c.Deadline.Duration <= c.GracePeriod.Duration {
		bad("duration", c.Deadline.raw)
	}
	if (c.WaitExitCode.raw != "" || c.WaitFinishedAt.raw != "") && (c.PodUID == "" || !c.WaitExitCode.Set || c.Mode == ModeSweep) {
		bad("wait evidence naming no pod, or without an exit code", c.WaitExitCode.raw)
	}
	if _, _, err := net.SplitHostPort(c.MetricsAddress); c.Mode == ModeWatch && (err != nil || c.WatchInterval.Duration <= 0) {
		bad("watch setting", c.MetricsAddress+" "+c.WatchInterval.raw)
	}
	_, _, metricsErr := net.SplitHostPort(c.MetricsAddress)
	if _, _, err := net.SplitHostPort(c.PodsAddress); c.Mode == ModePods && (err != nil || metricsErr != nil || c.Workflow != "" || c.NodeID != "") {
		bad("pod watcher setting", c.PodsAddress+" "+c.MetricsAddress+" "+c.Workflow+" "+c.NodeID)
	}
	if c.HintMaxMemory.Value.Value() < minHintMaxBytes {
		bad("memory hint cap", c.HintMaxMemory.raw)
	}
	if c.ResubmitMaxMemory.Value.Value() < minHintMaxBytes || c.ResubmitMaxAttempts.Value < 1 ||
		c.ResubmitMaxAttempts.Value > maxResubmitAttempts || (c.Resubmit.Value && c.Mode != ModeWatch) {
		bad("resubmit setting", c.ResubmitMaxMemory.raw+" "+c.ResubmitMaxAttempts.raw)
	}
	if c.SinkRetries.Value < 0 || c.SinkRetries.Value > 20 || c.SweepConcurrency.Value < 1 || c.SweepConcurrency.Value > 64 {
		bad("count", c.SinkRetries.raw+"/"+c.SweepConcurrency.raw)
	}
}

// TestFuzzLoadCoversEveryVariable fails when a variable is added to Config
// without being fuzzed.
func TestFuzzLoadCoversEveryVariable(t *testing.T) {
	var b strings.Builder
	if err := Usage(&b); err != nil {
		t.Fatal(err)
	}
	fuzzed := map[string]bool{}
	for _, v := range fuzzVars {
		fuzzed[Prefix+"_"+v] = true
	}
	for _, line := range strings.Split(b.String(), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 0 && !fuzzed[f[0]] {
			t.Errorf("FuzzLoad does not set %s", f[0])
		}
	}
}
