// Package manifests tests the kustomize manifests in manifests/ of the
// repository: every overlay and component builds with kustomize's own krusty
// library; the RBAC rules are least-privilege (no wildcards, a comment on each
// rule, patch on workflows only with the nudge component, create and patch
// only with the resubmit component) and written once;
// every pod is hardened and bounded; the overlays set the namespace and the
// image; the (Cluster)WorkflowTemplate passes Argo Workflows' own validation,
// and so does a Workflow submitted from it; and the output of each overlay is
// accepted by a real kube-apiserver with the Argo CRDs (server-side dry run,
// through test/support/cluster).
//
// The overlays include eventsources/ and sensors/ from the repository root;
// the tests build them from the working tree (copied into memory, so that
// test-only kustomizations never touch it). The API server test needs the
// binaries of `make tools-cluster` and is skipped with -short.
//
// The package holds only this file and tests: go test ./test/manifests/.
package manifests
