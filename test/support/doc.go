// Package support is the one place the tests' shared helpers live, so that
// every test package builds, plays and observes the remediator alike:
//
//   - [BuildRemediator]: the remediator built as shipped (static, trimmed);
//   - [Start] and [Run]: the binary run as a Job's pod runs it, its JSON log
//     parsed;
//   - [NewStuck]: a workflow with one pod node, its pod and task result on a
//     real API server, as the controller and the executor leave them;
//   - [NewProxy]: the API server behind a proxy that records every request
//     and can go down, drop answers and cut watches;
//   - [NewSink]: a CloudEvents sink that answers each delivery as told;
//   - [Eventually] and [Until]: polling for a condition, never a sleep;
//   - [Merge], [WriteFile], [Kubeconfig]: environments and files.
//
// The subpackages hold what needs a process of its own: cluster (a real
// kube-apiserver and etcd), kubelet (the played kubelet) and argo (a real
// Argo workflow-controller at a pinned version, and the fan-out workflows
// played on it).
package support
