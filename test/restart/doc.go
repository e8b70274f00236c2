// Package restart tests the real remediator binary against a local control
// plane whose kube-apiserver and etcd are stopped and started again while
// the remediator waits on its watches, and against watches that end with
// 410 Gone (injected, and produced by the API server itself). Each test
// checks the outcome the binary reports, its exit code and how many times it
// wrote the WorkflowTaskResult, counted by a reverse proxy between the binary
// and the API server.
//
// The package starts a control plane of its own (restarting it would break
// the other packages' tests) and its tests never run in parallel.
package restart
