package resubmit

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// followFor is how long a rescued workflow is waited for to end.
const followFor = 24 * time.Hour

// Follower is the part `remediator watch` runs: it follows the workflows
// the remediator rescued (told by Rescued, from the remediator's Events)
// and the workflows it resubmitted (listed by their chain label, not yet
// handled) to their end, and hands each to the Resubmitter once ended.
type Follower struct {
	Resubmitter *Resubmitter
	// Namespace limits the chain's listing; empty: every namespace.
	Namespace string
	// Report notifies what was done.
	Report func(context.Context, Report)
	Log    *slog.Logger

	mu      sync.Mutex
	pending map[key]*rescue
}

type key struct{ namespace, name string }

type rescue struct {
	nodes []string
	since time.Time
}

// Rescued follows workflow ns/name, whose node nodeID the remediator rescued.
func (f *Follower) Rescued(ns, name, nodeID string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pending == nil {
		f.pending = map[key]*rescue{}
	}
	k := key{ns, name}
	r, ok := f.pending[k]
	if !ok {
		r = &rescue{since: now}
		f.pending[k] = r
	}
	if !slices.Contains(r.nodes, nodeID) {
		r.nodes = append(r.nodes, nodeID)
	}
}

// Pending is the number of rescued workflows followed.
func (f *Follower) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending)
}

// Check hands every followed workflow that ended to the Resubmitter. An
// error is logged; the workflow is tried again at the next check.
func (f *Follower) Check(ctx context.Context, now time.Time) {
	todo := map[key][]string{}
	f.mu.Lock()
	for k, r := range f.pending {
		todo[k] = slices.Clone(r.nodes)
	}
	f.mu.Unlock()
	members, err := f.members(ctx)
	if err != nil {
		f.Log.Warn("resubmit: listing the resubmitted workflows failed", "error", err)
	}
	for _, k := range members {
		if _, ok := todo[k]; !ok {
			todo[k] = nil
		}
	}
	for k, nodes := range todo {
		reports, done, err := f.Resubmitter.Handle(ctx, k.namespace, k.name, nodes)
		if err != nil {
			f.Log.Warn("resubmit: handling an ended workflow failed; trying again", "namespace", k.namespace, "workflow", k.name, "error", err)
			continue
		}
		for _, r := range reports {
			f.Report(ctx, r)
		}
		f.mu.Lock()
		if r, ok := f.pending[k]; ok && (done || now.Sub(r.since) > followFor) {
			delete(f.pending, k)
		}
		f.mu.Unlock()
	}
}

// members lists the ended workflows of a chain that are not handled yet.
func (f *Follower) members(ctx context.Context) ([]key, error) {
	sel := fmt.Sprintf("%s,%s=true,!%s", LabelChainRoot, labelCompleted, LabelHandled)
	opts := metav1.ListOptions{LabelSelector: sel}
	var out []key
	for {
		list, err := f.Resubmitter.Argo.ArgoprojV1alpha1().Workflows(f.Namespace).List(ctx, opts)
		if err != nil {
			return out, fmt.Errorf("listing workflows %q in %q: %w", sel, f.Namespace, err)
		}
		for _, wf := range list.Items {
			out = append(out, key{wf.Namespace, wf.Name})
		}
		if list.Continue == "" {
			return out, nil
		}
		opts.Continue = list.Continue
	}
}
