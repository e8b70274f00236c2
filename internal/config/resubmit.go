package config

// maxResubmitAttempts bounds REMEDIATOR_RESUBMIT_MAX_ATTEMPTS: a chain
// longer than that is a loop, not a rescue.
const maxResubmitAttempts = 10

// validateResubmit checks the resubmit's bounds (in every mode: a Job
// given them by the shared ConfigMap must not hide a typo until the watch
// reads it).
func (c Config) validateResubmit(bad func(name, format string, a ...any)) {
	if c.ResubmitMaxMemory.err != nil {
		bad("RESUBMIT_MAX_MEMORY", "%q is not a Kubernetes quantity (examples: 8Gi, 16Gi)", c.ResubmitMaxMemory.raw)
	} else if c.ResubmitMaxMemory.Value.Cmp(minHintMax) < 0 {
		bad("RESUBMIT_MAX_MEMORY", "%q must be at least %s", c.ResubmitMaxMemory.raw, minHintMax.String())
	}
	if c.ResubmitMaxAttempts.err != nil {
		bad("RESUBMIT_MAX_ATTEMPTS", "%v", c.ResubmitMaxAttempts.err)
	} else if c.ResubmitMaxAttempts.Value < 1 || c.ResubmitMaxAttempts.Value > maxResubmitAttempts {
		bad("RESUBMIT_MAX_ATTEMPTS", "%d must be between 1 and %d", c.ResubmitMaxAttempts.Value, maxResubmitAttempts)
	}
	if c.Resubmit.err == nil && c.Resubmit.Value && c.Mode != ModeWatch {
		bad("RESUBMIT", "only `remediator watch` resubmits; set it on the watch Deployment (manifests/components/resubmit)")
	}
}
