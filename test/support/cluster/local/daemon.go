package local

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
)

// runDaemon holds the control plane until SIGTERM or SIGINT, or until etcd or
// kube-apiserver dies. `up` starts it detached, with its output in
// logs/daemon.log; `up` treats the ready file as success and the daemon's exit
// as failure.
func runDaemon(cfg Config) error {
	st := cfg.state()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.Printf("daemon %d starting (state in %s)", os.Getpid(), st.dir)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	signal.Ignore(syscall.SIGHUP)

	began := time.Now()
	c, err := cluster.Launch(context.Background(), cluster.Options{
		RepoRoot:      cfg.Root,
		StateDir:      st.dir,
		APIServerPort: cfg.APIServerPort,
		EtcdPort:      cfg.EtcdPort,
	})
	if err != nil {
		return err
	}
	defer func() {
		log.Print("stopping control plane")
		if err := c.Stop(); err != nil {
			log.Printf("stopping control plane: %v", err)
		}
		for _, n := range components {
			_ = os.Remove(st.pidFile(n))
		}
		log.Print("stopped")
	}()

	pids := childrenRunning(map[string]string{
		"etcd":           filepath.Join(c.AssetsDir, "etcd"),
		"kube-apiserver": filepath.Join(c.AssetsDir, "kube-apiserver"),
	})
	if err := os.MkdirAll(st.path("pids"), 0o755); err != nil {
		return err
	}
	for _, n := range components {
		if pids[n] == 0 {
			return fmt.Errorf("cannot find the %s process among the daemon's children", n)
		}
		if err := writePID(st.pidFile(n), pids[n]); err != nil {
			return err
		}
	}
	kc, err := c.KubeConfig()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(st.kubeconfig(), kc, 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(st.ready(), []byte(c.APIServerURL()+"\n"), 0o644); err != nil {
		return err
	}
	log.Printf("ready at %s after %s (etcd pid %d, kube-apiserver pid %d)",
		c.APIServerURL(), time.Since(began).Round(time.Millisecond), pids["etcd"], pids["kube-apiserver"])

	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case sig := <-signals:
			log.Printf("received %s", sig)
			return nil
		case <-tick.C:
			for _, n := range components {
				if cmdline(pids[n]) == nil {
					_ = os.Remove(st.ready())
					return fmt.Errorf("%s (pid %d) exited; see %s", n, pids[n], st.log(n))
				}
			}
		}
	}
}
