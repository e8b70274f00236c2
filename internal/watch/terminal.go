package watch

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/metrics"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/wfstatus"
)

// giveUp is how long a rescued workflow is followed: one that has not ended
// by then is not timed.
const giveUp = time.Hour

// Terminal follows rescued workflows to their end and observes the time
// from the rescued node's end to the workflow's.
type Terminal struct {
	Workflows wfstatus.Reader
	Metrics   *metrics.Metrics
	Log       *slog.Logger

	mu      sync.Mutex
	pending map[workflowKey]time.Time // → the earliest rescued node's end
}

type workflowKey struct{ namespace, name string }

// Track follows the workflow; nodeFinished is when its rescued node ended.
func (t *Terminal) Track(namespace, name string, nodeFinished time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending == nil {
		t.pending = map[workflowKey]time.Time{}
	}
	k := workflowKey{namespace, name}
	if old, ok := t.pending[k]; !ok || nodeFinished.Before(old) {
		t.pending[k] = nodeFinished
	}
}

// Pending is the number of workflows followed.
func (t *Terminal) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending)
}

// Check reads each followed workflow once (straight from the API server)
// and observes those that ended.
func (t *Terminal) Check(ctx context.Context, now time.Time) {
	t.mu.Lock()
	keys := make(map[workflowKey]time.Time, len(t.pending))
	for k, v := range t.pending {
		keys[k] = v
	}
	t.mu.Unlock()
	for k, since := range keys {
		wf, _, err := t.Workflows.Read(ctx, k.namespace, k.name)
		if err != nil {
			t.Log.Warn("reading a rescued workflow failed", "namespace", k.namespace, "workflow", k.name, "error", err)
			continue
		}
		switch {
		case wf != nil && wf.Phase.Completed() && !wf.FinishedAt.IsZero():
			t.Metrics.OOMToTerminal.Observe(max(wf.FinishedAt.Sub(since), 0).Seconds())
		case wf != nil && now.Sub(since) < giveUp:
			continue // still running
		}
		t.mu.Lock()
		delete(t.pending, k)
		t.mu.Unlock()
	}
}
