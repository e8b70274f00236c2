package pipeline

import (
	"io"
	"net"
	"sync"
)

// forwarder is a loopback TCP forwarder to the kube-apiserver, used by the
// resource event source only. argo-events v1.9.10 never stops that
// source's informer (resource/start.go blocks in sharedInformer.Run on a
// channel nothing closes, and the leader elector returns without waiting
// for it), so its watch would outlive the test and hold the API server's
// shutdown up. Closing the forwarder cuts that watch and every retry.
// TLS passes through untouched: the API server's certificate is for
// 127.0.0.1, which the forwarder also listens on.
type forwarder struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func startForwarder(target string) (*forwarder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &forwarder{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go f.serve()
	return f, nil
}

func (f *forwarder) Addr() string { return f.ln.Addr().String() }

func (f *forwarder) serve() {
	for {
		in, err := f.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", f.target)
		if err != nil {
			in.Close()
			continue
		}
		if !f.track(in, out) {
			continue
		}
		go f.pipe(in, out)
		go f.pipe(out, in)
	}
}

func (f *forwarder) track(conns ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		f.conns[c] = struct{}{}
	}
	return true
}

func (f *forwarder) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// Close stops accepting and closes every forwarded connection.
func (f *forwarder) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	f.ln.Close()
	for c := range f.conns {
		c.Close()
	}
}
