package notify

import (
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
)

// SweepType is the type of the one summary event a sweep sends.
const SweepType = TypePrefix + "sweep.v1"

// SweepSummary is the data of a sweep's summary event. Each node the sweep
// remediated is also reported by its own event, like a Job's.
type SweepSummary struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace,omitempty"` // empty: every namespace
	Workflows int    `json:"workflows"`           // Running workflows scanned
	Suspects  int    `json:"suspects"`            // finished nodes with a false status entry
	// Remediated, Unchanged, Failed: the nodes safe to fix now, by result
	// (Unchanged: nothing written, because the node was found complete or
	// healthy by then, or in a dry run); Failed also counts the workflows
	// whose nodes could not be read; Deferred: the others (wait may still
	// write), left to a later sweep or their Job.
	Remediated int     `json:"remediated"`
	Unchanged  int     `json:"unchanged"`
	Failed     int     `json:"failed"`
	Deferred   int     `json:"deferred"`
	Seconds    float64 `json:"seconds"`
	DryRun     bool    `json:"dryRun"`
}

// BuildSweep describes a sweep. Each sweep is a distinct event (random id).
func BuildSweep(s SweepSummary, now time.Time) (cloudevents.Event, error) {
	ev := cloudevents.NewEvent()
	ev.SetID(uuid.NewString())
	ev.SetType(SweepType)
	ev.SetSource("urn:argo-oom-remediator:" + s.Cluster)
	ev.SetSubject("sweep/" + s.Namespace)
	ev.SetTime(now)
	if err := ev.SetData(cloudevents.ApplicationJSON, s); err != nil {
		return ev, fmt.Errorf("encoding the sweep summary: %w", err)
	}
	return ev, ev.Validate()
}
