// Package cluster starts a real Kubernetes control plane (etcd and
// kube-apiserver, no controller-manager, scheduler or kubelet) for tests and
// local development, with the Argo Workflows and Argo Events CRDs installed.
//
// The binaries are the pinned ones that `make tools` (hack/build-tools.sh)
// builds into <repo>/bin/k8s/<KUBERNETES_VERSION>/; KUBEBUILDER_ASSETS
// overrides that directory. The control plane is started through
// controller-runtime's envtest, which turns on RBAC authorization and sets the
// service-account issuer and signing-key flags, so RBAC rules and TokenRequest
// tokens work as in a real cluster. The CRDs are read from the Argo modules
// pinned in the root go.mod, not from copies.
//
// Tests call [Start] (skipped under -short); each call starts its own control
// plane (about 5 s) that is stopped when the test ends. To share one per
// package, call [Launch] from TestMain. Nothing runs controllers: objects are
// stored and validated but never reconciled, and namespaces never finish
// deleting, so give every test a fresh namespace with [Cluster.NewNamespace].
//
// [Cluster.StopAPIServer], [Cluster.StartAPIServer], [Cluster.StopEtcd],
// [Cluster.StartEtcd] and the Restart* shorthands take one component down and
// bring it back on the same ports, data and certificates, so clients made
// before keep working (test/faults uses them; restart a cluster of your own,
// not one shared by a package).
//
// The test/cmd/localcluster command uses [Launch] to keep a cluster running in the
// background for people; see its package documentation.
package cluster
