package notify

import (
	"fmt"
	"math"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"k8s.io/apimachinery/pkg/api/resource"
)

// HintStep is what a suggested limit is rounded up to: a whole 64Mi.
const HintStep = 64 << 20

// DefaultHintMax caps the suggested limit when no maximum is given.
var DefaultHintMax = resource.MustParse("64Gi")

// MemoryHint tells the on-call engineer which container ran out of memory
// and what to raise it to.
type MemoryHint struct {
	Container string `json:"container"`
	Template  string `json:"template,omitempty"`
	// Node is the workflow node's name; HostNode the Kubernetes node its
	// pod ran on.
	Node          string `json:"node,omitempty"`
	HostNode      string `json:"hostNode,omitempty"`
	MemoryRequest string `json:"memoryRequest,omitempty"`
	MemoryLimit   string `json:"memoryLimit,omitempty"`
	// SuggestedLimit is empty when there is no limit to raise.
	SuggestedLimit string `json:"suggestedLimit,omitempty"`
	// Rule says how SuggestedLimit was found.
	Rule string `json:"rule"`
	// PodSpecPatch and RetryStrategy are ready to paste into the template.
	PodSpecPatch  string `json:"podSpecPatch,omitempty"`
	RetryStrategy string `json:"retryStrategy,omitempty"`
}

// Suggest is the rule: the limit ×1.5, rounded up to a whole 64Mi, at most
// max. capped tells whether max decided.
func Suggest(limit, max resource.Quantity) (q resource.Quantity, capped bool) {
	steps := math.Ceil(float64(limit.Value()) * 1.5 / HintStep)
	v := int64(steps) * HintStep
	if v > max.Value() {
		return max, true
	}
	return *resource.NewQuantity(v, resource.BinarySI), false
}

// Hint builds the memory hint of a run whose pod showed an OOMKilled
// container; nil otherwise.
func Hint(res remediate.Result, max resource.Quantity) *MemoryHint {
	c := failedContainer(res.Containers)
	if c == nil || c.Reason != "OOMKilled" {
		return nil
	}
	h := &MemoryHint{Container: c.Name, Template: res.Template, Node: res.NodeName, HostNode: res.HostNode,
		MemoryRequest: c.MemoryRequest, MemoryLimit: c.MemoryLimit}
	limit, err := resource.ParseQuantity(c.MemoryLimit)
	if c.MemoryLimit == "" || err != nil || limit.Value() <= 0 {
		h.Rule = "no memory limit was set: the container was killed at the node's memory; set a limit and a request from its usage"
		return h
	}
	s, capped := Suggest(limit, max)
	h.SuggestedLimit = s.String()
	h.Rule = fmt.Sprintf("%s ×1.5, rounded up to a whole 64Mi", c.MemoryLimit)
	if capped {
		h.Rule += fmt.Sprintf(", capped at the maximum %s", max.String())
	}
	h.PodSpecPatch = fmt.Sprintf(`podSpecPatch: '{"containers":[{"name":%q,"resources":{"limits":{"memory":%q},"requests":{"memory":%q}}}]}'`,
		c.Name, h.SuggestedLimit, h.SuggestedLimit)
	step := s.Value() >> 20
	h.RetryStrategy = fmt.Sprintf("retryStrategy:\n  limit: 2\n  retryPolicy: Always\n"+
		`podSpecPatch: '{"containers":[{"name":%q,"resources":{"limits":{"memory":"{{=(sprig.int(retries) + 1) * %d}}Mi"}}}]}'`,
		c.Name, step)
	return h
}
