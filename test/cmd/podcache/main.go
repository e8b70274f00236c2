// Command podcache is the measured process of the EventSource memory
// benchmark (test/eventsource): it watches workflow pods as the shipped
// EventSource does and, once its cache holds every pod, prints what that
// costs, as one JSON line, and exits.
//
//	podcache -mode argo-events -eventsource eventsources/workflow-pods.yaml -sentinel NS/NAME
//
// Modes:
//
//   - argo-events: argo-events v1.9.10's resource event source
//     (pkg/eventsources/sources/resource, the listener the EventSource pod
//     runs) on the EventSource's first resource event. Its dispatched
//     events are counted and dropped: the EventBus client is left out, so
//     the figure is the informer's and the event encoding's.
//   - lean: a typed pod informer with the same label selector whose
//     transform keeps only the fields the Sensor's filters and the Job's
//     parameters read (podwatch.Lean, the transform of `remediator pods`).
//
// The API server is the one of $KUBECONFIG. The cache is known to hold
// every pod when an UPDATE of the sentinel pod arrives: the bench patches it
// until then, and the informer delivers the list's objects before any
// watch event. Then the process collects garbage, reads its memory and
// exits.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/podcache"
)

func main() {
	mode := flag.String("mode", "argo-events", "argo-events or lean")
	esFile := flag.String("eventsource", "eventsources/workflow-pods.yaml", "the EventSource manifest (argo-events mode and the label selector)")
	sentinel := flag.String("sentinel", "", "namespace/name of the pod whose UPDATE ends the wait")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after")
	flag.Parse()
	if err := run(*mode, *esFile, *sentinel, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "podcache:", err)
		os.Exit(1)
	}
}

func run(mode, esFile, sentinel string, timeout time.Duration) error {
	ns, name, ok := strings.Cut(sentinel, "/")
	if !ok {
		return fmt.Errorf("-sentinel %q: want namespace/name", sentinel)
	}
	es, src, err := loadEventSource(esFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	w := &watch{sentinelNS: ns, sentinel: name, seen: make(chan struct{})}
	began := time.Now()
	var cached func() int
	switch mode {
	case "argo-events":
		err = w.argoEvents(ctx, es, src)
	case "lean":
		cached, err = w.lean(ctx, src)
	default:
		err = fmt.Errorf("-mode %q: want argo-events or lean", mode)
	}
	if err != nil {
		return err
	}
	select {
	case <-w.seen:
	case <-ctx.Done():
		return fmt.Errorf("no UPDATE of %s within %s", sentinel, timeout)
	}
	r := podcache.Report{Mode: mode, Seconds: time.Since(began).Seconds()}
	r.Events, r.Foreign = w.counts()
	if cached != nil {
		r.Cached = cached()
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.HeapAfterGC = ms.HeapAlloc
	if r.RSS, r.PeakRSS, err = procMemory(); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// procMemory reads VmRSS and VmHWM of this process, in bytes.
func procMemory() (rss, peak uint64, err error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, fmt.Errorf("reading /proc/self/status: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		var kib uint64
		if _, err := fmt.Sscanf(line, "VmRSS: %d kB", &kib); err == nil {
			rss = kib << 10
		}
		if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kib); err == nil {
			peak = kib << 10
		}
	}
	return rss, peak, nil
}
