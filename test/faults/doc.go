// Package faults runs the real remediator binary through every fault its
// environment can throw at it, and checks it ends as an uninterrupted run
// would (the task result written exactly once, and only once `wait` can no
// longer write) or ends with a clear outcome and exit code:
//
//   - restart_test.go: kube-apiserver and etcd stopped and started again
//     while it waits on its watches, a change made while it re-watches;
//   - watch_test.go: watches that end with 410 Gone (injected, and produced
//     by the API server itself after etcd compaction) and watches cut again
//     and again;
//   - api_test.go: throttled and failing writes;
//   - lostanswer_test.go: the answer to its write lost after the API server
//     did it;
//   - signals_test.go: SIGKILL at each step then the Job's retry, SIGTERM;
//   - sink_test.go: a CloudEvents sink that fails, stalls, resets or hangs.
//
// The API server is reached through support.Proxy, which counts what the
// binary does. The package starts a control plane of its own (restarting
// it would break other packages' tests) and its tests never run in
// parallel.
package faults
