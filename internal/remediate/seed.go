package remediate

import (
	"errors"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/wfstatus"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
)

// SeedMaxAge is how old a [Seed] may be and still be written on; an older
// one is dropped for a read of the run's own.
const SeedMaxAge = time.Minute

// Seed is what a bulk read (the sweep's lists) already showed of a target's
// objects. A run given a seed takes its first decision on it instead of
// reading the workflow, the task result and the pod again: at cluster scale
// those three reads per node are most of a sweep's requests.
//
// Why a seed is fresh enough to write on: the run uses it only when the
// decision on it is a write (anything else is decided again on a read of the
// run's own), and only while it is younger than SeedMaxAge. The write then
// rests on three kinds of facts:
//   - the task result, incomplete or missing: the write is guarded by it.
//     The patch carries the task result's resourceVersion as listed and a
//     create fails if one exists: if the executor (or anyone) wrote it since
//     the list, the API server refuses (Conflict, AlreadyExists), nothing is
//     written, and the run reads again and decides on what it reads;
//   - the pod: a wait container seen terminated stays so (workflow pods
//     never restart containers), and a pod gone for longer than the grace
//     does not come back (a new pod has another UID, which a read turns into
//     PodReplaced). Older evidence of these is as true as newer;
//   - the workflow: the node finished and its status entry false. The entry
//     turns true only once the controller saw the task result complete, which
//     changes the task result (above). A finished node is put back to
//     Pending only by a v3.7+ controller rerunning a pod that vanished, which
//     it does when it reconciles that vanishing, not the grace (30 s by
//     default) after the node ended that a write on a vanished pod waits
//     for. A run's
//     own read is no guarantee against that either: it too is taken some
//     time before the write (hundreds of milliseconds under the client's
//     rate limit); the seed only widens that window to at most SeedMaxAge.
//
// So a stale seed can cost a refused write and a read, not a write that a
// fresh read would have prevented, short of that rerun landing within the
// minute.
type Seed struct {
	Workflow   *wfstatus.Workflow
	TaskResult *wfv1.WorkflowTaskResult // nil: none was listed
	Pod        *corev1.Pod              // nil: none was listed
	// ReadAt is when the oldest of them was read (at the latest).
	ReadAt time.Time
}

// take returns the seed's snapshot if it is young enough, and forgets the
// seed either way: it serves the first decision only.
func (r *Remediator) take(seed **Seed) (snapshot, bool) {
	sd := *seed
	*seed = nil
	if sd == nil || sd.Workflow == nil || r.clock.Since(sd.ReadAt) > SeedMaxAge {
		return snapshot{}, false
	}
	return snapshot{wf: sd.Workflow, tr: sd.TaskResult, pod: sd.Pod}, true
}

// writesOn tells whether a run would write straight away on s: the
// workflow is running, holds the node (or is held by its entry), and the
// decision is Complete or Create. mem is the run's pod memory, left as it
// is (a copy observes s).
func (r *Remediator) writesOn(s snapshot, t Target, mem *podMemory, now time.Time) bool {
	if s.wf == nil || s.wf.Phase.Completed() || t.NodeID == "" {
		return false
	}
	node, known, err := s.wf.Nodes.Get(t.NodeID)
	if (err != nil && !errors.Is(err, wfstatus.ErrOffloaded)) || (!known && !blocks(s.wf, t.NodeID)) {
		return false
	}
	m := *mem
	m.observe(s.pod, now)
	switch decide.Decide(inputOf(s, node, known, t, &m, r.opts.Grace, now)).Action {
	case decide.Complete, decide.Create:
		return true
	}
	return false
}
