package e2e

import (
	"testing"
	"time"
)

// TestEarlyWriteCatchesWritesWhileWaitLives checks the timeline check the
// early scenarios rely on: it must fail for a write while the wait
// container was alive, or inside the grace of a vanished pod.
func TestEarlyWriteCatchesWritesWhileWaitLives(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tl := Timeline{OOM: t0, WaitEnding: t0.Add(WaitLinger), WaitEnded: t0.Add(WaitLinger + time.Millisecond), Deleted: t0.Add(WaitLinger + 10*time.Millisecond)}
	for _, tc := range []struct {
		name        string
		tl          Timeline
		wrote       time.Time
		trustedGone bool
		early       bool
	}{
		{"no write", tl, time.Time{}, false, false},
		{"at main's OOM, wait alive", tl, t0.Add(10 * time.Millisecond), false, true},
		{"just before the wait's end was reported", tl, tl.WaitEnding.Add(-time.Millisecond), false, true},
		{"wait never ended", Timeline{OOM: t0}, t0.Add(time.Minute), false, true},
		{"after the wait's end", tl, tl.WaitEnded.Add(time.Millisecond), false, false},
		{"vanished pod inside the grace", tl, tl.Deleted.Add(grace / 2), true, true},
		{"vanished pod never deleted", Timeline{WaitEnding: t0}, t0.Add(time.Minute), true, true},
		{"vanished pod after the grace", tl, tl.Deleted.Add(grace), true, false},
	} {
		if err := EarlyWrite(tc.tl, tc.wrote, tc.trustedGone, grace); (err != nil) != tc.early {
			t.Errorf("%s: EarlyWrite = %v, want early %v", tc.name, err, tc.early)
		}
	}
}
