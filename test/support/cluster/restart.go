package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Restarts. envtest's Stop and Start can be called again on the same
// component (controller-runtime v0.20.4 builds a fresh process state on each
// Start), and the component comes back on the same ports, because the ports
// chosen at the first start are kept in the component's fields. What would
// not survive are envtest's own temporary directories, deleted on every
// Stop; [Launch] therefore always passes fixed ones: etcd keeps its data,
// and kube-apiserver finds its serving certificate, client CA and
// service-account signing key again, so existing clients, kubeconfigs and
// ServiceAccount tokens keep working.

// StopAPIServer stops kube-apiserver (SIGTERM, as a node shutdown or a
// static-pod update does); etcd keeps running. Open watches end and new
// connections are refused until [Cluster.StartAPIServer].
func (c *Cluster) StopAPIServer() error {
	if err := c.env.ControlPlane.APIServer.Stop(); err != nil {
		return fmt.Errorf("cluster: stopping kube-apiserver: %w", err)
	}
	return nil
}

// StartAPIServer starts a stopped kube-apiserver again on the same address
// with the same certificates, and waits until /readyz answers ok.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	if err := c.env.ControlPlane.APIServer.Start(); err != nil {
		return fmt.Errorf("cluster: starting kube-apiserver again at %s: %w", c.APIServerURL(), err)
	}
	return c.WaitReady(ctx)
}

// RestartAPIServer is [Cluster.StopAPIServer] then [Cluster.StartAPIServer].
func (c *Cluster) RestartAPIServer(ctx context.Context) error {
	if err := c.StopAPIServer(); err != nil {
		return err
	}
	return c.StartAPIServer(ctx)
}

// StopEtcd stops etcd (SIGTERM); kube-apiserver keeps running but cannot
// serve anything that needs storage until [Cluster.StartEtcd].
func (c *Cluster) StopEtcd() error {
	if err := c.env.ControlPlane.Etcd.Stop(); err != nil {
		return fmt.Errorf("cluster: stopping etcd: %w", err)
	}
	return nil
}

// StartEtcd starts a stopped etcd again on the same client URL with the same
// data directory, and waits until kube-apiserver's /readyz answers ok (its
// etcd checks included).
func (c *Cluster) StartEtcd(ctx context.Context) error {
	if err := c.env.ControlPlane.Etcd.Start(); err != nil {
		return fmt.Errorf("cluster: starting etcd again at %s: %w", c.EtcdURL(), err)
	}
	return c.WaitReady(ctx)
}

// RestartEtcd is [Cluster.StopEtcd] then [Cluster.StartEtcd].
func (c *Cluster) RestartEtcd(ctx context.Context) error {
	if err := c.StopEtcd(); err != nil {
		return err
	}
	return c.StartEtcd(ctx)
}

// EtcdURL is the http URL etcd serves clients on.
func (c *Cluster) EtcdURL() string { return c.env.ControlPlane.Etcd.URL.String() }

// WaitReady polls kube-apiserver's /readyz until it answers ok, or ctx ends,
// or a minute passes; the error then carries the last answer.
func (c *Cluster) WaitReady(ctx context.Context) error {
	rc := c.Kube.Discovery().RESTClient()
	last := errors.New("none")
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		body, err := rc.Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			last = fmt.Errorf("%w: %s", err, body)
		}
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("cluster: kube-apiserver at %s not ready: %w (last answer: %w)", c.APIServerURL(), err, last)
	}
	return nil
}
