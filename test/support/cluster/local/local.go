// Package local runs a [cluster] control plane in the background for people,
// with its state in <repo>/.cluster. It implements the test/cmd/localcluster
// command:
//
//	up      start etcd and kube-apiserver on 127.0.0.1 in a detached daemon,
//	        install the Argo CRDs, write .cluster/kubeconfig and print
//	        `export KUBECONFIG=<abs path>/.cluster/kubeconfig` on stdout
//	down    stop the daemon and its etcd and kube-apiserver, remove .cluster
//	status  say whether it runs and whether the API server is ready
//
// Layout of .cluster: daemon.pid, pids/{etcd,kube-apiserver}.pid, kubeconfig,
// ready (the API server URL, written once CRDs are established),
// logs/{daemon,etcd,kube-apiserver}.log, etcd/ (data) and pki/ (certificates).
package local

import (
	"path/filepath"
	"time"
)

// Default loopback ports. They are fixed so that the kubeconfig stays valid
// across restarts; pass -apiserver-port/-etcd-port to change them.
const (
	DefaultAPIServerPort = 16443
	DefaultEtcdPort      = 12379
)

// daemonArg is the hidden subcommand under which `up` re-executes the command
// as the background daemon.
const daemonArg = "__daemon"

// Config is what every subcommand works on.
type Config struct {
	// Root is the repository root; the state lives in Root/.cluster.
	Root string
	// APIServerPort and EtcdPort are the loopback ports of the cluster.
	APIServerPort, EtcdPort int
	// Timeout bounds `up` waiting for readiness and `down` waiting for exit.
	Timeout time.Duration
}

// state names the files in the state directory.
type state struct{ dir string }

func (c Config) state() state { return state{filepath.Join(c.Root, ".cluster")} }

func (s state) path(elem ...string) string {
	return filepath.Join(append([]string{s.dir}, elem...)...)
}
func (s state) daemonPID() string       { return s.path("daemon.pid") }
func (s state) pidFile(n string) string { return s.path("pids", n+".pid") }
func (s state) kubeconfig() string      { return s.path("kubeconfig") }
func (s state) ready() string           { return s.path("ready") }
func (s state) log(n string) string     { return s.path("logs", n+".log") }

// components are the processes the daemon starts, with pid files.
var components = []string{"etcd", "kube-apiserver"}
