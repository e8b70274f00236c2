// Package eventsource measures the memory of the workflow-pods EventSource
// (issue 12) on a real kube-apiserver: the measured process is
// test/cmd/podcache, run on its own so that its figures are the watcher's
// alone, over thousands of workflow pods built from the captured pod
// fixture test/events/testdata/pods/oom-main (4.4 KB of JSON as the API
// server stores it, more with its managedFields) and non-workflow pods the
// label selector must keep out.
//
// TestEventSourceMemory (in `make test`) checks at 1,000 workflow pods that
// argo-events' resource event source stays under the EventSource's memory
// limit and sees no foreign pod, and that the lean watcher caches exactly
// the workflow pods. BenchmarkEventSourceMemory (`make bench`) measures
// both at 1,000, 5,000 and 10,000 workflow pods (EVENTSOURCE_PODS=N for
// one size) and reports bytes per cached pod.
package eventsource
