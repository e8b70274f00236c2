package cluster

import (
	"fmt"
	"net/http/httputil"
	"net/url"

	"k8s.io/client-go/rest"
)

// ReverseProxy returns a reverse proxy to the API server of cfg that
// authenticates with cfg's credentials and streams watches (no buffering).
// Tests put it between a remediator and the API server to count, fail or
// cut requests; the remediator then talks to it over plain HTTP without
// credentials of its own.
func ReverseProxy(cfg *rest.Config) (*httputil.ReverseProxy, error) {
	target, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("parsing the API server URL %q: %w", cfg.Host, err)
	}
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("transport for %s: %w", cfg.Host, err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport, rp.FlushInterval = rt, -1
	return rp, nil
}
