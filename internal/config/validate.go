package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Validate reports every problem of the configuration at once, each naming
// its variable. It returns nil when the configuration is usable.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s_%s: %s", Prefix, name, fmt.Sprintf(format, a...)))
	}
	name := func(v, key string, required bool, check func(string) []string) {
		if v == "" {
			if required {
				bad(key, "is required")
			}
			return
		}
		if msgs := check(v); len(msgs) > 0 {
			bad(key, "%q is not a valid Kubernetes name: %s", v, strings.Join(msgs, "; "))
		}
	}
	sweep := c.Mode == ModeSweep || c.Mode == ModeWatch
	pods := c.Mode == ModePods
	name(c.Namespace, "NAMESPACE", !sweep && !pods, validation.IsDNS1123Label)
	name(c.Workflow, "WORKFLOW", !sweep && !pods, validation.IsDNS1123Subdomain)
	name(c.NodeID, "NODE_ID", false, validation.IsDNS1123Subdomain)
	name(c.PodName, "POD_NAME", false, validation.IsDNS1123Subdomain)
	if c.NodeID == "" && c.PodName != "" {
		bad("POD_NAME", "a pod is only meaningful with %s_NODE_ID", Prefix)
	}
	if c.NodeID == "" && c.PodUID != "" {
		bad("POD_UID", "a pod is only meaningful with %s_NODE_ID", Prefix)
	}
	if sweep && c.NodeID != "" {
		bad("NODE_ID", "is not used by the sweep, which finds the stuck nodes itself")
	}
	if pods && (c.Workflow != "" || c.NodeID != "") {
		bad("WORKFLOW", "and %s_NODE_ID are not used by the pod watcher, which watches every workflow pod of %s_NAMESPACE", Prefix, Prefix)
	}
	if c.Mode != "" && !sweep && !pods {
		errs = append(errs, fmt.Errorf("unknown mode %q", c.Mode))
	}
	if c.PodUID != "" && len(validation.IsValidLabelValue(c.PodUID)) > 0 {
		bad("POD_UID", "%q is not a valid UID", c.PodUID)
	}
	c.validateEvidence(bad)
	if !slices.Contains(Reasons, c.Reason) {
		bad("REASON", "%q is not one of %s", c.Reason, strings.Join(Reasons, ", "))
	}

	positive := func(d Duration, key string, allowZero bool) {
		switch {
		case d.err != nil:
			bad(key, "%q is not a duration (examples: 30s, 5m)", d.raw)
		case d.Duration < 0 || (d.Duration == 0 && !allowZero):
			bad(key, "%q must be positive", d.raw)
		}
	}
	positive(c.GracePeriod, "GRACE_PERIOD", true)
	positive(c.Deadline, "DEADLINE", false)
	positive(c.VerifyTimeout, "VERIFY_TIMEOUT", true)
	positive(c.SinkTimeout, "SINK_TIMEOUT", false)
	if c.Mode == ModeWatch {
		positive(c.WatchInterval, "WATCH_INTERVAL", false)
	}
	if c.Mode == ModeWatch || pods {
		if _, _, err := net.SplitHostPort(c.MetricsAddress); err != nil {
			bad("METRICS_ADDRESS", "%q is not host:port (examples: :9090, 127.0.0.1:9090)", c.MetricsAddress)
		}
	}
	if pods {
		if _, _, err := net.SplitHostPort(c.PodsAddress); err != nil {
			bad("PODS_ADDRESS", "%q is not host:port (examples: :9000, 127.0.0.1:9000)", c.PodsAddress)
		}
	}
	if c.Deadline.err == nil && c.GracePeriod.err == nil && c.Deadline.Duration > 0 && c.Deadline.Duration <= c.GracePeriod.Duration {
		bad("DEADLINE", "%s must exceed %s_GRACE_PERIOD (%s), or a vanished pod is never trusted", c.Deadline.Duration, Prefix, c.GracePeriod.Duration)
	}
	if c.SinkRetries.err != nil {
		bad("SINK_RETRIES", "%v", c.SinkRetries.err)
	} else if c.SinkRetries.Value < 0 || c.SinkRetries.Value > 20 {
		bad("SINK_RETRIES", "%d must be between 0 and 20", c.SinkRetries.Value)
	}

	if c.HintMaxMemory.err != nil {
		bad("HINT_MAX_MEMORY", "%q is not a Kubernetes quantity (examples: 16Gi, 64Gi)", c.HintMaxMemory.raw)
	} else if c.HintMaxMemory.Value.Cmp(minHintMax) < 0 {
		bad("HINT_MAX_MEMORY", "%q must be at least %s", c.HintMaxMemory.raw, minHintMax.String())
	}

	c.validateResubmit(bad)

	if c.SweepConcurrency.err != nil {
		bad("SWEEP_CONCURRENCY", "%v", c.SweepConcurrency.err)
	} else if c.SweepConcurrency.Value < 1 || c.SweepConcurrency.Value > 64 {
		bad("SWEEP_CONCURRENCY", "%d must be between 1 and 64", c.SweepConcurrency.Value)
	}

	if c.SinkURL != "" {
		if err := absoluteHTTP(c.SinkURL); err != nil {
			bad("SINK_URL", "%v", err)
		}
	}
	if c.SinkTokenFile != "" && c.SinkURL == "" {
		bad("SINK_TOKEN_FILE", "is set but REMEDIATOR_SINK_URL is empty")
	} else if c.SinkTokenFile != "" {
		if err := tokenFile(c.SinkTokenFile); err != nil {
			bad("SINK_TOKEN_FILE", "%v", err)
		}
	}
	if c.Kubeconfig != "" {
		if err := regularFile(c.Kubeconfig); err != nil {
			bad("KUBECONFIG", "%v", err)
		}
	}
	if c.ArgoUIURL != "" {
		if err := absoluteHTTP(c.ArgoUIURL); err != nil {
			bad("ARGO_UI_URL", "%v", err)
		}
	}
	if len(validation.IsDNS1123Subdomain(c.ClusterName)) > 0 {
		bad("CLUSTER_NAME", "%q must be a DNS subdomain (lower case letters, digits, '-' and '.')", c.ClusterName)
	}

	for _, b := range []struct {
		v   Bool
		key string
	}{{c.DryRun, "DRY_RUN"}, {c.Nudge, "NUDGE"}, {c.Resubmit, "RESUBMIT"}} {
		if b.v.err != nil {
			bad(b.key, "%v", b.v.err)
		}
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		bad("LOG_LEVEL", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("LOG_FORMAT", "%q is not json or text", c.LogFormat)
	}
	return errors.Join(errs...)
}

func absoluteHTTP(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL: %w", raw, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q must be an absolute http or https URL", raw)
	case u.Host == "":
		return fmt.Errorf("%q has no host", raw)
	}
	return nil
}

// minHintMax is the smallest cap of the memory hint: one rounding step.
var minHintMax = resource.MustParse("64Mi")
