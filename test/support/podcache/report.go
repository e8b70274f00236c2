// Package podcache holds the report of test/cmd/podcache, the measured
// process of the EventSource memory benchmark, so the command that prints
// it and the test that reads it share one definition.
package podcache

import "fmt"

// Report is the JSON line podcache prints once its cache holds every pod.
type Report struct {
	Mode string `json:"mode"`
	// HeapAfterGC is runtime.MemStats.HeapAlloc right after a forced GC:
	// the live heap, cache included.
	HeapAfterGC uint64 `json:"heapAfterGC"`
	// RSS and PeakRSS are VmRSS and VmHWM of /proc/self/status, in bytes.
	RSS     uint64 `json:"rss"`
	PeakRSS uint64 `json:"peakRSS"`
	// Events counts the dispatched events until the sentinel's; Foreign
	// those of pods without the workflow label (the selector must keep
	// them out: always 0).
	Events  int `json:"events"`
	Foreign int `json:"foreign"`
	// Cached is the number of pods in the cache (lean mode only; the
	// argo-events informer's store is not reachable).
	Cached int `json:"cached"`
	// Seconds from start to the sentinel's event.
	Seconds float64 `json:"seconds"`
	// PeakMiB is the peak RSS an outside observer saw over the process's
	// whole life (it exits right after its report); the reader fills it.
	PeakMiB float64 `json:"-"`
}

func (r Report) String() string {
	return fmt.Sprintf("%-11s heap after GC %6.1f MiB, RSS %6.1f MiB, peak RSS %6.1f MiB, %d events (%d foreign), %d cached, %.1f s",
		r.Mode, MiB(r.HeapAfterGC), MiB(r.RSS), r.PeakMiB, r.Events, r.Foreign, r.Cached, r.Seconds)
}

// MiB converts bytes to mebibytes.
func MiB(b uint64) float64 { return float64(b) / (1 << 20) }
