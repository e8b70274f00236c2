package config

import (
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary values to every variable: Load never panics,
// and a configuration it accepts is one Validate accepts.
func FuzzLoad(f *testing.F) {
	f.Add("team-a", "etl", "etl-1", "30s", "10m", "https://sink.example.com/x", "true", "OOMKilled")
	f.Add("", "", "", "", "", "", "", "")
	f.Add("Bad_NS", "-", strings.Repeat("x", 300), "-1s", "soon", "/rel", "maybe", "because")
	f.Fuzz(func(t *testing.T, ns, wf, node, grace, deadline, sink, dry, reason string) {
		for k, v := range map[string]string{
			"REMEDIATOR_NAMESPACE": ns, "REMEDIATOR_WORKFLOW": wf, "REMEDIATOR_NODE_ID": node,
			"REMEDIATOR_GRACE_PERIOD": grace, "REMEDIATOR_DEADLINE": deadline, "REMEDIATOR_SINK_URL": sink,
			"REMEDIATOR_DRY_RUN": dry, "REMEDIATOR_REASON": reason,
		} {
			if strings.ContainsRune(v, 0) {
				t.Skip("environment values cannot hold NUL")
			}
			t.Setenv(k, v)
		}
		c, err := Load("")
		if err == nil && (c.Namespace == "" || c.Workflow == "" || c.Deadline.Duration <= c.GracePeriod.Duration) {
			t.Fatalf("accepted an unusable configuration: %+v", c)
		}
	})
}
