package cluster

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	wfclientset "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Options configure [Launch]. The zero value starts a control plane on random
// loopback ports with its state in temporary directories.
type Options struct {
	// RepoRoot is the repository root; empty means [RepoRoot].
	RepoRoot string
	// StateDir, if set, holds etcd's data ("etcd"), the certificates ("pki")
	// and the component logs ("logs/etcd.log", "logs/kube-apiserver.log"), and
	// is kept after Stop. Empty means a temporary directory, removed by Stop,
	// with the component output discarded (or attached to this process's
	// stdout/stderr when KUBEBUILDER_ATTACH_CONTROL_PLANE_OUTPUT=true).
	// Either way the data and certificates outlive a component restart.
	StateDir string
	// APIServerPort and EtcdPort are loopback ports to listen on; 0 picks a
	// free one. A fixed port that is taken fails fast with an error naming it.
	APIServerPort, EtcdPort int
	// ExtraCRDDirs are installed in addition to the Argo CRDs.
	ExtraCRDDirs []string
	// StartTimeout bounds the start of each component; 0 means 60s.
	StartTimeout time.Duration
}

// Cluster is a running control plane with clients authenticated as an admin
// (a member of system:masters, so RBAC never denies it).
type Cluster struct {
	// Config is the admin *rest.Config.
	Config *rest.Config
	// Kube is a Kubernetes clientset using Config.
	Kube kubernetes.Interface
	// Argo is an Argo Workflows clientset using Config.
	Argo wfclientset.Interface
	// AssetsDir is the directory the binaries were taken from.
	AssetsDir string

	env     *envtest.Environment
	logs    []io.Closer
	tempDir string // removed by Stop; empty with Options.StateDir
}

// Launch starts etcd and kube-apiserver, installs the CRDs and waits until they
// are established. The caller must call [Cluster.Stop]. ctx only bounds the
// preparation and CRD installation checks; the processes outlive it.
func Launch(ctx context.Context, opts Options) (_ *Cluster, err error) {
	root := opts.RepoRoot
	if root == "" {
		if root, err = RepoRoot(); err != nil {
			return nil, err
		}
	}
	assets, err := AssetsDir(root)
	if err != nil {
		return nil, err
	}
	crdDirs, err := CRDDirs(root)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 60 * time.Second
	}

	c := &Cluster{AssetsDir: assets}
	defer func() {
		if err != nil {
			c.closeLogs()
			c.removeTempDir()
		}
	}()
	etcd := &envtest.Etcd{}
	api := &envtest.APIServer{}
	if err := c.configure(opts, etcd, api); err != nil {
		return nil, err
	}
	notExisting := false
	c.env = &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		ControlPlane:             envtest.ControlPlane{Etcd: etcd, APIServer: api},
		CRDDirectoryPaths:        append(crdDirs, opts.ExtraCRDDirs...),
		ErrorIfCRDPathMissing:    true,
		UseExistingCluster:       &notExisting,
		ControlPlaneStartTimeout: opts.StartTimeout,
	}
	cfg, err := c.env.Start()
	if err != nil {
		_ = c.env.Stop()
		return nil, fmt.Errorf("cluster: starting control plane from %s: %w", assets, err)
	}
	if err := c.setClients(cfg); err != nil {
		_ = c.Stop()
		return nil, err
	}
	return c, nil
}

// configure applies the ports and state directory of opts.
func (c *Cluster) configure(opts Options, etcd *envtest.Etcd, api *envtest.APIServer) error {
	// On SIGTERM, end open watches (within 2s) rather than wait for them
	// until the shutdown timeout: Stop and a restart stay quick.
	api.Configure().Set("shutdown-watch-termination-grace-period", "2s")
	if opts.APIServerPort != 0 {
		if err := CheckPortFree(opts.APIServerPort, "kube-apiserver"); err != nil {
			return err
		}
		api.ListenAddr = envtest.ListenAddr{Address: "127.0.0.1", Port: strconv.Itoa(opts.APIServerPort)}
	}
	if opts.EtcdPort != 0 {
		if err := CheckPortFree(opts.EtcdPort, "etcd"); err != nil {
			return err
		}
		etcd.URL = &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.EtcdPort))}
	}
	if opts.StateDir == "" {
		// Fixed directories rather than envtest's own temporary ones, which
		// it deletes on every Stop: a restarted component must find its
		// data and certificates again (see restart.go).
		dir, err := os.MkdirTemp("", "cluster-")
		if err != nil {
			return err
		}
		c.tempDir = dir
		etcd.DataDir, api.CertDir = filepath.Join(dir, "etcd"), filepath.Join(dir, "pki")
		for _, d := range []string{etcd.DataDir, api.CertDir} {
			if err := os.Mkdir(d, 0o700); err != nil {
				return err
			}
		}
		return nil
	}
	etcd.DataDir = filepath.Join(opts.StateDir, "etcd")
	api.CertDir = filepath.Join(opts.StateDir, "pki")
	logDir := filepath.Join(opts.StateDir, "logs")
	for _, dir := range []string{etcd.DataDir, api.CertDir, logDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	var err error
	if etcd.Out, err = c.openLog(filepath.Join(logDir, "etcd.log")); err != nil {
		return err
	}
	etcd.Err = etcd.Out
	if api.Out, err = c.openLog(filepath.Join(logDir, "kube-apiserver.log")); err != nil {
		return err
	}
	api.Err = api.Out
	return nil
}

func (c *Cluster) setClients(cfg *rest.Config) error {
	c.Config = cfg
	var err error
	if c.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	c.Argo, err = wfclientset.NewForConfig(cfg)
	return err
}

// Stop stops kube-apiserver and etcd. A cluster without StateDir also loses
// its temporary data.
func (c *Cluster) Stop() error {
	err := c.env.Stop()
	c.closeLogs()
	c.removeTempDir()
	return err
}

func (c *Cluster) removeTempDir() {
	if c.tempDir != "" {
		_ = os.RemoveAll(c.tempDir)
		c.tempDir = ""
	}
}

// APIServerURL is the https URL the API server listens on.
func (c *Cluster) APIServerURL() string { return c.Config.Host }

func (c *Cluster) openLog(path string) (io.Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	c.logs = append(c.logs, f)
	return f, nil
}

func (c *Cluster) closeLogs() {
	for _, l := range c.logs {
		_ = l.Close()
	}
	c.logs = nil
}

// CheckPortFree fails with a message naming the port and component when
// 127.0.0.1:port cannot be listened on.
func CheckPortFree(port int, component string) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("cluster: port %d on 127.0.0.1 for %s is not free (%w); stop whatever uses it or choose another port", port, component, err)
	}
	return l.Close()
}
