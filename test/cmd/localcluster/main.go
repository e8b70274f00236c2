// Command localcluster starts and stops a local Kubernetes control plane
// (etcd + kube-apiserver, loopback only) with the Argo CRDs installed, for
// people and for manual testing. It lives in the test module (test/go.mod);
// from the repository root:
//
//	make tools-cluster                          # once: builds bin/k8s/<version>/
//	go -C test run ./cmd/localcluster up        # or: make cluster-up
//	export KUBECONFIG=$PWD/.cluster/kubeconfig
//	go -C test run ./cmd/localcluster status    # or: make cluster-status
//	go -C test run ./cmd/localcluster down      # or: make cluster-down
//
// The API server listens on 127.0.0.1:16443 and etcd on 127.0.0.1:12379
// (-apiserver-port, -etcd-port). State, pid files and logs are in
// <repo>/.cluster (git-ignored). `up` when already running prints where it runs
// and exits 0. See package test/support/cluster/local for details.
package main

import (
	"os"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster/local"
)

func main() {
	os.Exit(local.Main(os.Args[1:]))
}
