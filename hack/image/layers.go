package main

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// CABundlePath is where the image keeps its CA roots; Go's crypto/x509
// reads it on Linux (and SSL_CERT_FILE in the config names it).
const CABundlePath = "etc/ssl/certs/ca-certificates.crt"

// entry is one file or directory of a layer.
type entry struct {
	name     string
	mode     int64
	uid, gid int
	dir      bool
	data     []byte
}

// tarLayer is an OCI gzip layer of the entries, every time set to epoch,
// owner names empty: the same entries give the same digest.
func tarLayer(entries []entry, epoch time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			ModTime: epoch, Format: tar.FormatUSTAR,
		}
		if e.dir {
			h.Typeflag, h.Name = tar.TypeDir, e.name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar header of %s: %w", e.name, err)
		}
		if !e.dir {
			if _, err := tw.Write(e.data); err != nil {
				return nil, fmt.Errorf("tar data of %s: %w", e.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing a layer tar: %w", err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer from tar: %w", err)
	}
	return l, nil
}

// rootLayer is the root file system every platform shares: what
// distroless/static has and the remediator needs. /etc/passwd names the
// nonroot user so that tools resolving 65532 find it; the files are
// root-owned and read-only to it.
func rootLayer(caBundle []byte, epoch time.Time) (v1.Layer, error) {
	return tarLayer([]entry{
		{name: "etc", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/ssl", mode: 0o755, dir: true},
		{name: "etc/ssl/certs", mode: 0o755, dir: true},
		{name: CABundlePath, mode: 0o644, data: caBundle},
		{name: "home", mode: 0o755, dir: true},
		{name: "home/nonroot", mode: 0o700, uid: UID, gid: UID, dir: true},
		{name: "tmp", mode: 0o1777, dir: true},
	}, epoch)
}

// binaryLayer holds the remediator at /remediator, root-owned, executable
// by anyone.
func binaryLayer(bin string, epoch time.Time) (v1.Layer, error) {
	b, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("reading the built binary: %w", err)
	}
	return tarLayer([]entry{{name: Entrypoint[1:], mode: 0o555, data: b}}, epoch)
}

// caBundle is the PEM bundle of the Mozilla NSS roots that
// golang.org/x/crypto/x509roots/fallback (pinned in go.mod) carries, in its
// order, each preceded by its subject. Roots with an NSS constraint
// (distrust after a date) are left out: a PEM file cannot express the
// constraint, and trusting them fully would be wider than NSS does.
func caBundle() ([]byte, int, error) {
	var buf bytes.Buffer
	n := 0
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		c, err := x509.ParseCertificate(r.Certificate)
		if err != nil {
			return nil, 0, fmt.Errorf("parsing a root of x509roots/fallback: %w", err)
		}
		fmt.Fprintf(&buf, "# %s\n", c.Subject)
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate}); err != nil {
			return nil, 0, fmt.Errorf("encoding %s: %w", c.Subject, err)
		}
		n++
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("x509roots/fallback has no unconstrained root")
	}
	return buf.Bytes(), n, nil
}
