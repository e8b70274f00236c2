package pipeline

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// slackMessage is one chat.postMessage call the fake Slack API received.
type slackMessage struct {
	At       time.Time
	Token    string // the bot token: Authorization bearer or form field "token"
	Channel  string
	Text     string
	Blocks   string // JSON
	ThreadTS string
}

// fakeSlack is Slack's Web API as far as argo-events' Slack trigger
// (notifications-engine + slack-go) uses it: chat.postMessage (and
// chat.update, for an update delivery policy). The trigger needs nothing
// else: it posts to the channel name and never resolves or joins channels.
// Other methods are recorded and answered with an error.
type fakeSlack struct {
	mu       sync.Mutex
	messages []slackMessage
	unknown  []string
	changed  chan struct{} // closed and replaced on every message
	ts       int
}

func newFakeSlack() *fakeSlack { return &fakeSlack{changed: make(chan struct{})} }

func (s *fakeSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.URL.Path {
	case "/api/chat.postMessage", "/api/chat.update":
		s.ts++
		ts := fmt.Sprintf("1700000000.%06d", s.ts)
		if r.URL.Path == "/api/chat.postMessage" {
			s.messages = append(s.messages, slackMessage{
				At: time.Now(), Token: token(r), Channel: r.PostForm.Get("channel"),
				Text: r.PostForm.Get("text"), Blocks: r.PostForm.Get("blocks"), ThreadTS: r.PostForm.Get("thread_ts"),
			})
			close(s.changed)
			s.changed = make(chan struct{})
		}
		fmt.Fprintf(w, `{"ok":true,"channel":"C1","ts":%q}`, ts)
	default:
		s.unknown = append(s.unknown, r.URL.Path)
		fmt.Fprint(w, `{"ok":false,"error":"unknown_method"}`)
	}
}

// token returns the bot token of a Web API call.
func token(r *http.Request) string {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return t
	}
	return r.PostForm.Get("token")
}

// snapshot returns the messages so far and a channel closed on the next one.
func (s *fakeSlack) snapshot() ([]slackMessage, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]slackMessage(nil), s.messages...), s.changed
}

func (s *fakeSlack) unknownCalls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.unknown...)
}

// slackProxy is an HTTPS proxy on loopback that never dials out: it accepts
// CONNECT slack.com:443 only, terminates TLS itself with a slack.com
// certificate of the test CA and hands the decrypted connection to the
// fake Slack API. Anything else is refused.
type slackProxy struct {
	Addr  string
	front *http.Server
	api   *http.Server
	conns *connListener
}

func startSlackProxy(ca *testCA, api http.Handler) (*slackProxy, error) {
	cert, err := ca.serverCert([]string{"slack.com"}, nil)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &slackProxy{Addr: ln.Addr().String(), conns: newConnListener(ln.Addr())}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
	p.api = &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	p.front = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Host != "slack.com:443" {
			http.Error(w, "this proxy only reaches a fake slack.com", http.StatusForbidden)
			return
		}
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "no hijacking", http.StatusInternalServerError)
			return
		}
		conn, rw, err := hj.Hijack()
		if err != nil {
			return
		}
		if _, err := rw.WriteString("HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil || rw.Flush() != nil {
			conn.Close()
			return
		}
		p.conns.push(tls.Server(&bufferedConn{Conn: conn, r: rw.Reader}, tlsCfg))
	})}
	go func() { _ = p.front.Serve(ln) }()
	go func() { _ = p.api.Serve(p.conns) }()
	return p, nil
}

func (p *slackProxy) Close() {
	_ = p.front.Close()
	_ = p.api.Close()
}

// bufferedConn reads what the proxy's reader may already have buffered.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// connListener is a net.Listener fed with connections by push.
type connListener struct {
	addr   net.Addr
	ch     chan net.Conn
	once   sync.Once
	closed chan struct{}
}

func newConnListener(addr net.Addr) *connListener {
	return &connListener{addr: addr, ch: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *connListener) push(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.closed:
		c.Close()
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, errors.New("listener closed")
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }
