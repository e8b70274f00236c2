package e2e

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Timeline is what the played kubelet did to one pod, and when.
type Timeline struct {
	Pod      string
	PodUID   types.UID
	NodeID   string
	NodeName string
	Workflow string
	// Attempt is 1 for the first pod of a node, 2 for a pod the controller
	// re-created (Argo v3.7 reruns a step whose pod was deleted).
	Attempt int
	Victim  bool
	// Running: the controller showed the node Running. OOM: main reported
	// OOMKilled. WaitEnding: the played kubelet is about to report the wait
	// container terminated (until then it may write, whatever any reader
	// saw); WaitEnded: that report was stored (killed or exited). Deleted:
	// the pod deleted. Done: the pod's fate played.
	Started, Running, OOM, WaitEnding, WaitEnded, Deleted, Done time.Time
	// WaitExitCode is the exit code the pod's status reported for the wait
	// container at WaitEnded (unset where only the task result told).
	WaitExitCode int32
}

// EarlyWrite says why a write to the node's task result at wrote came
// while the wait container of tl could still write, or nil. A write is
// safe only after the kubelet began reporting the wait container's end
// (WaitEnding: no reader can have seen it terminated before), and, for a
// pod trusted dead because it vanished, after the grace since its deletion.
func EarlyWrite(tl Timeline, wrote time.Time, trustedGone bool, grace time.Duration) error {
	switch {
	case wrote.IsZero():
		return nil
	case tl.WaitEnding.IsZero():
		return fmt.Errorf("written at %s, but the wait container never ended", wrote.Format(time.StampMilli))
	case !wrote.After(tl.WaitEnding):
		return fmt.Errorf("written at %s, %s before the wait container's end was reported (%s)",
			wrote.Format(time.StampMilli), tl.WaitEnding.Sub(wrote).Round(time.Millisecond), tl.WaitEnding.Format(time.StampMilli))
	case trustedGone && (tl.Deleted.IsZero() || wrote.Sub(tl.Deleted) < grace):
		return fmt.Errorf("written at %s trusting the vanished pod, %s after its deletion (%s), inside the %s grace",
			wrote.Format(time.StampMilli), wrote.Sub(tl.Deleted).Round(time.Millisecond), tl.Deleted.Format(time.StampMilli), grace)
	}
	return nil
}

// mark records the time of a moment of a timeline.
func (p *Player) mark(at *time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	*at = time.Now()
	p.notify()
}

// waitEnded records the report of the wait container's end in the pod's
// status, with its exit code.
func (p *Player) waitEnded(tl *Timeline, exit int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tl.WaitEnded, tl.WaitExitCode = time.Now(), exit
	p.notify()
}

func (p *Player) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errs = append(p.errs, err)
	p.notify()
}

func (p *Player) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Player) snapshot(tl *Timeline) Timeline {
	p.mu.Lock()
	defer p.mu.Unlock()
	return *tl
}

// Timelines returns what was played so far, one per pod.
func (p *Player) Timelines() []Timeline {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Timeline, 0, len(p.pods))
	for _, tl := range p.pods {
		out = append(out, *tl)
	}
	return out
}

// Err reports what went wrong while playing.
func (p *Player) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return errors.Join(p.errs...)
}

// Await waits until cond holds for the timelines, or timeout, or a playing
// error. It returns the first timeline cond picked.
func (p *Player) Await(ctx context.Context, timeout time.Duration, what string, cond func(Timeline) bool) (Timeline, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		p.mu.Lock()
		changed, errs := p.changed, errors.Join(p.errs...)
		var found *Timeline
		for _, tl := range p.pods {
			if cond(*tl) {
				c := *tl
				found = &c
				break
			}
		}
		p.mu.Unlock()
		switch {
		case found != nil:
			return *found, nil
		case errs != nil:
			return Timeline{}, fmt.Errorf("played kubelet failed while waiting for %s: %w", what, errs)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Timeline{}, fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
}

// VictimDone waits until the victim's fate has been played.
func (p *Player) VictimDone(ctx context.Context, timeout time.Duration) (Timeline, error) {
	return p.Await(ctx, timeout, "the victim's fate", func(tl Timeline) bool { return tl.Victim && !tl.Done.IsZero() })
}

// Wait waits for the player's goroutines after its context ended.
func (p *Player) Wait() { p.wg.Wait() }
