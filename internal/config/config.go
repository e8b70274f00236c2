package config

import (
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Prefix is put before every variable name: REMEDIATOR_NAMESPACE, ...
const Prefix = "REMEDIATOR"

// Trigger reasons accepted in REMEDIATOR_REASON.
const (
	ReasonOOMKilled  = "OOMKilled"
	ReasonDeleted    = "deleted"
	ReasonWaitFailed = "wait-failed"
	ReasonManual     = "manual"
	ReasonSweep      = "sweep"
)

// ModeSweep is the mode of `remediator sweep`.
const ModeSweep = "sweep"

// ModeWatch is the mode of `remediator watch`: the sweep every
// WatchInterval, with metrics.
const ModeWatch = "watch"

// ModePods is the mode of `remediator pods`: the lean workflow pod watcher
// that serves Argo Events' generic event source (internal/podwatch).
const ModePods = "pods"

// Reasons lists the accepted trigger reasons.
var Reasons = []string{ReasonOOMKilled, ReasonDeleted, ReasonWaitFailed, ReasonManual, ReasonSweep}

// Config is every setting of the remediator. Each field is read from
// REMEDIATOR_<NAME>; see Usage for the list. Values that do not parse are
// kept and reported by Validate together with every other problem.
type Config struct {
	// Mode comes from the command line, not the environment: "" remediates
	// one node (or every stuck node of one workflow), ModeSweep scans.
	Mode string `ignored:"true"`

	Namespace string `split_words:"true" desc:"Namespace of the workflow (required; sweep: the namespace to scan, empty for all)."`
	Workflow  string `split_words:"true" desc:"Name of the Workflow (required; sweep: optional, limits the scan)."`
	NodeID    string `split_words:"true" desc:"Node ID, also the WorkflowTaskResult's name; empty: every stuck node of the workflow."`
	PodName   string `split_words:"true" desc:"Pod that ran the node; found by the node-id annotation when empty."`
	PodUID    string `split_words:"true" desc:"UID of that pod; a pod of the same name with another UID means the step reruns."`
	Reason    string `split_words:"true" default:"manual" desc:"Why this run was triggered: OOMKilled, deleted, wait-failed, manual or sweep."`

	// The triggering event's evidence about the wait container of pod
	// PodUID (the Sensor fills them from the event's body): a set exit
	// code proves that wait terminated, exactly like a terminated status
	// the remediator reads itself.
	WaitExitCode   ExitCode  `split_words:"true" desc:"Exit code of the wait container of pod REMEDIATOR_POD_UID, as the triggering event showed it terminated; empty: not shown terminated."`
	WaitFinishedAt Timestamp `split_words:"true" desc:"When that wait container terminated (RFC 3339), per the same event; needs REMEDIATOR_WAIT_EXIT_CODE."`

	GracePeriod   Duration `split_words:"true" default:"30s" desc:"How long a vanished pod's wait container is assumed to live on (force deletion)."`
	Deadline      Duration `split_words:"true" default:"10m" desc:"Overall time limit of the run, waiting included."`
	VerifyTimeout Duration `split_words:"true" default:"2m" desc:"How long to watch the workflow reach a completed phase after the fix."`

	SinkURL       string   `split_words:"true" desc:"CloudEvents sink (absolute http(s) URL); empty: log the event only."`
	SinkTokenFile string   `split_words:"true" desc:"File holding a bearer token for the sink (a mounted Secret); never the token itself."`
	SinkTimeout   Duration `split_words:"true" default:"10s" desc:"Timeout of one delivery attempt."`
	SinkRetries   Int      `split_words:"true" default:"5" desc:"Delivery retries after the first attempt, with exponential backoff."`
	ClusterName   string   `split_words:"true" default:"default" desc:"Cluster name put in the CloudEvent source."`
	ArgoUIURL     string   `envconfig:"ARGO_UI_URL" desc:"Argo UI base URL, for links in notifications (optional)."`
	// HintMaxMemory caps the memory limit the notifications suggest for an
	// OOMKilled container (its limit ×1.5, rounded up to a whole 64Mi).
	HintMaxMemory Quantity `split_words:"true" default:"64Gi" desc:"Largest memory limit the notifications' memory hint suggests (a Kubernetes quantity, at least 64Mi)."`

	SweepConcurrency Int `split_words:"true" default:"4" desc:"Sweep: nodes remediated at once."`

	// Resubmit turns on the opt-in resubmit with more memory (watch only;
	// internal/resubmit), bounded by the two after it.
	Resubmit            Bool     `split_words:"true" default:"false" desc:"Watch: resubmit, with more memory, the workflows that opted in and failed by an OOM the remediator rescued (needs the resubmit component's RBAC)."`
	ResubmitMaxMemory   Quantity `split_words:"true" default:"16Gi" desc:"Largest memory limit a resubmission gives a container (a Kubernetes quantity, at least 64Mi)."`
	ResubmitMaxAttempts Int      `split_words:"true" default:"3" desc:"Resubmissions of one workflow's chain, at most (1 to 10)."`

	WatchInterval  Duration `split_words:"true" default:"1m" desc:"Watch: time between two sweeps."`
	MetricsAddress string   `split_words:"true" default:":9090" desc:"Watch and pods: address the /metrics and /healthz endpoints listen on (host:port)."`
	PodsAddress    string   `split_words:"true" default:":9000" desc:"Pods: address the gRPC service of Argo Events' generic event source listens on (host:port)."`

	DryRun Bool `split_words:"true" default:"false" desc:"Report what would be done; write nothing."`
	Nudge  Bool `split_words:"true" default:"false" desc:"After the fix, annotate the Workflow so Argo v3.6+ reconciles at once (needs patch on workflows)."`

	LogLevel  string `split_words:"true" default:"info" desc:"debug, info, warn or error."`
	LogFormat string `split_words:"true" default:"json" desc:"json or text."`

	Kubeconfig string `envconfig:"KUBECONFIG" desc:"Kubeconfig file (also read from KUBECONFIG); empty: in-cluster."`
}

// Duration is a time.Duration read from the environment. A value that does
// not parse is remembered and reported by Validate.
type Duration struct {
	time.Duration
	raw string
	err error
}

// Decode implements envconfig.Decoder; it never fails so that Validate can
// report every problem at once.
func (d *Duration) Decode(value string) error {
	d.raw = value
	d.Duration, d.err = time.ParseDuration(value)
	return nil
}

// Bool is a bool read from the environment; see Duration.
type Bool struct {
	Value bool
	raw   string
	err   error
}

// Decode implements envconfig.Decoder.
func (b *Bool) Decode(value string) error {
	b.raw = value
	b.Value, b.err = parseBool(value)
	return nil
}

// Quantity is a Kubernetes resource quantity (e.g. 16Gi) read from the
// environment; see Duration.
type Quantity struct {
	Value resource.Quantity
	raw   string
	err   error
}

// Decode implements envconfig.Decoder.
func (q *Quantity) Decode(value string) error {
	q.raw = value
	q.Value, q.err = resource.ParseQuantity(strings.TrimSpace(value))
	return nil
}

// Int is an int read from the environment; see Duration.
type Int struct {
	Value int
	raw   string
	err   error
}

// Decode implements envconfig.Decoder.
func (i *Int) Decode(value string) error {
	i.raw = value
	i.Value, i.err = parseInt(value)
	return nil
}
