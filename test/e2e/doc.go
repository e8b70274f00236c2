// Package e2e runs the remediator against the REAL Argo workflow-controller
// of every version the project supports (argo.Versions), on a local
// kube-apiserver and etcd, with a played kubelet and executor.
//
// Every scenario of the issue is a row of [Scenarios]; what each controller
// version does with it upstream, without the remediator, is a row of
// [Expectations], derived from the reference notes and checked by the tests.
// A case gets a namespace and a controller of its own, so cases run in
// parallel.
//
// The played kubelet ([Player]) watches the pods the controller creates,
// reports them running, plays the executor's InitializeOutput (or its legacy
// pod annotation), waits until the controller shows the node Running, and
// then ends the pod as the scenario says: an OOM with the wait container
// killed or still running, the pod deleted at once, a few seconds after the
// controller saw it fail, or never.
//
// Early scenarios start the remediator at the trigger, inside the
// controller's window; in 9-early-oom-deleted and 10-early-oom-pod-kept the
// wait container outlives main by WaitLinger, so a remediator that wrote
// before the wait's end fails [EarlyWrite], which compares the write (as the
// run reports it and as the player's own task-result watch saw it) with the
// moment the played kubelet began reporting the wait's end.
//
// Issue 13 adds the zero-install alternative: a v3.7.1+ controller with
// TASK_RESULT_TIMEOUT_DURATION and RECENTLY_DELETED_POD_DURATION lowered
// (argo.LoweredTimeoutsEnv) and no remediator. TestLoweredTimeouts runs it on
// the scenarios that set it apart (a wait container uploading longer than
// the timeout; a wait that exited 0 without finalizing) and records what
// became of the outputs; the matrix asserts the remediator keeps them.
//
// `go test ./test/e2e/` runs the matrix (skipped with -short). `go run
// ./test/e2e/bench` measures the time to the workflow's terminal phase with
// and without the remediator; docs/benchmarks.md has the figures.
package e2e
