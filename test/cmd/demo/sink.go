package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
)

// sink is a loopback CloudEvents receiver that keeps what it is sent.
type sink struct {
	srv      *http.Server
	url      string
	received chan received
}

type received struct {
	contentType string
	body        []byte
}

func startSink() (*sink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{url: "http://" + l.Addr().String() + "/remediations", received: make(chan received, 16)}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.received <- received{r.Header.Get("Content-Type"), b}
		w.WriteHeader(http.StatusAccepted)
	})}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

func (s *sink) close() { _ = s.srv.Close() }

func pretty(b []byte) string {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "          ", "  "); err != nil {
		return string(b)
	}
	return out.String()
}
