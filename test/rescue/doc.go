// Package rescue proves each way the remediator rescues a stuck node, and
// each way it refuses to, against a real kube-apiserver and etcd (no Argo
// controller: package sweep, pipeline and e2e run the real one): pod gone
// past the grace, wait proven terminated, the executor finalizing while we
// wait, the legacy annotation path, concurrent writers and five
// remediators for one node, its own Role and nothing more, large and
// compressed workflow statuses, and the request budget of one run. The
// tests play the executor and the kubelet with support/kubelet, and stand
// in for the controller only where verification needs it.
package rescue
