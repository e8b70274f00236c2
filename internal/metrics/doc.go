// Package metrics defines the Prometheus metrics of `remediator watch`, the
// long-running sweep: how many nodes are stuck now and for how long, the
// rescues by outcome and trigger (counted from the Kubernetes Events every
// remediator run writes, the Sensor's Jobs included), the time from the OOM
// to the workflow's end, notification failures, and the sweeps themselves.
//
// Names start with argo_oom_remediator_; docs/operate.md lists them with the
// alerts built on them.
package metrics
