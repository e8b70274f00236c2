package pipeline

import (
	"crypto/tls"
	"fmt"
	"net"
	"time"

	aev1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	natsserver "github.com/nats-io/nats-server/v2/server"
)

// streamConfig is the JetStream stream the EventBus clients create, as the
// argo-events controller would render it for a one-replica EventBus.
const streamConfig = `maxMsgs: 1000000
maxAge: 72h
maxBytes: 1073741824
replicas: 1
duplicates: 300s
`

// eventBus is an embedded nats-server with JetStream on loopback that only
// accepts TLS clients; its certificate (127.0.0.1, localhost) is signed by
// the test CA.
type eventBus struct {
	srv    *natsserver.Server
	Config *aev1.BusConfig
}

func startEventBus(ca *testCA, storeDir string) (*eventBus, error) {
	cert, err := ca.serverCert([]string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	opts := &natsserver.Options{
		ServerName: "pipeline-eventbus",
		Host:       "127.0.0.1",
		Port:       natsserver.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true,
		NoLog:      true,
		// TLS required: a client that does not upgrade is refused.
		TLS:        true,
		TLSTimeout: 5,
		TLSConfig:  &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}
	srv, err := natsserver.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats-server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("nats-server not ready within 30s")
	}
	// What the argo-events controller puts in EVENTBUS_CONFIG for a JetStream
	// EventBus, minus the auth Secret (no accessSecret: strategy None). With
	// `tls.enabled` and no caCertSecret, argo-events builds a tls.Config
	// without RootCAs, i.e. it verifies the server against the system roots,
	// which SSL_CERT_FILE (set in TestMain) makes the test CA.
	cfg := &aev1.BusConfig{JetStream: &aev1.JetStreamConfig{
		URL:          srv.ClientURL(),
		StreamConfig: streamConfig,
		TLS:          &aev1.TLSConfig{Enabled: true},
	}}
	return &eventBus{srv: srv, Config: cfg}, nil
}

func (b *eventBus) Shutdown() {
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
}
