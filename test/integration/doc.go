// Package integration drives the remediator's real code against a real
// kube-apiserver and etcd (no Argo controller): watch semantics, optimistic
// concurrency, RBAC with the project's own Role, CRD validation. The tests
// play the executor and the kubelet with package kubelet, and stand in for
// the controller only where verification needs it.
package integration
