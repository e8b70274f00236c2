// Package eventsource measures the memory of the workflow pod watcher
// (issue 12) on a real kube-apiserver, each measured process run on its
// own so that its figures are the watcher's alone: the shipped `remediator
// pods` (the Deployment oom-remediator-pods that feeds the generic
// EventSource workflow-pods), and test/cmd/podcache in two modes:
// argo-events' resource event source as shipped before the watcher
// (testdata/workflow-pods-resource.yaml), and the watcher's lean transform
// in a bare informer. The pods are built from the captured fixture
// test/events/testdata/pods/oom-main (4.4 KB of JSON as the API server
// stores it, more with its managedFields), plus non-workflow pods the label
// selector must keep out.
//
// TestEventSourceMemory (in `make test`) checks at 1,000 workflow pods that
// `remediator pods` caches exactly the workflow pods and peaks under its
// Deployment's memory limit, and that the lean mode sees no foreign pod.
// BenchmarkEventSourceMemory (`make bench`) measures all three at 1,000,
// 5,000 and 10,000 workflow pods (EVENTSOURCE_PODS=N for one size) and
// reports bytes per cached pod.
package eventsource
