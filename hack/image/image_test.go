package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

var testEpoch = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// built is the layout that TestImage builds, shared by its subtests.
type built struct {
	dir    string
	res    *Result
	layout *Layout
}

// TestImage builds the image twice from the repository (as make image does,
// with the pinned toolchain) and checks what a platform team relies on.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the remediator for two platforms")
	}
	ctx := context.Background()
	opts := func(out string) Options {
		return Options{
			Root: "../..", Out: out, Platforms: []string{"linux/amd64", "linux/arm64"},
			Epoch: testEpoch, Version: "v0.0.0-test", Revision: "0123456789abcdef", Tag: "test",
		}
	}
	tmp := t.TempDir()
	b := built{dir: filepath.Join(tmp, "one")}
	t0 := time.Now()
	var err error
	if b.res, err = Build(ctx, opts(b.dir)); err != nil {
		t.Fatal(err)
	}
	t.Logf("first build %s (under load figures vary): index %s", time.Since(t0).Round(time.Second), b.res.Digest)
	if b.layout, err = OpenLayout(b.dir); err != nil {
		t.Fatal(err)
	}

	t.Run("reproducible", func(t *testing.T) {
		t0 := time.Now()
		again, err := Build(ctx, opts(filepath.Join(tmp, "two")))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("second build %s", time.Since(t0).Round(time.Second))
		if again.Digest != b.res.Digest {
			t.Errorf("rebuild gave index %s, first build %s", again.Digest, b.res.Digest)
		}
		for i, p := range again.Platforms {
			if p != b.res.Platforms[i] {
				t.Errorf("rebuild of %s: %+v, first build %+v", p.Platform, p, b.res.Platforms[i])
			}
		}
		one, _ := os.ReadFile(filepath.Join(b.dir, "index.json"))
		two, _ := os.ReadFile(filepath.Join(tmp, "two", "index.json"))
		if !bytes.Equal(one, two) || len(one) == 0 {
			t.Errorf("index.json differs:\n%s\n%s", one, two)
		}
	})
	t.Run("platforms", func(t *testing.T) { testPlatforms(t, b) })
	t.Run("sbom", func(t *testing.T) { testSBOM(t, b) })
	t.Run("push", func(t *testing.T) { testPush(t, b) })
}

// testPlatforms opens each platform's image: config, files, binary.
func testPlatforms(t *testing.T, b built) {
	im, err := b.layout.Index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range im.Manifests {
		got = append(got, d.Platform.String())
	}
	if want := []string{"linux/amd64", "linux/arm64"}; !slices.Equal(got, want) {
		t.Fatalf("index platforms %v, want %v", got, want)
	}
	if b.res.Toolchain != "go1.27.3" {
		t.Errorf("built with %s, want hack/versions.env's GO_TOOLCHAIN go1.27.3", b.res.Toolchain)
	}
	for _, d := range im.Manifests {
		t.Run(d.Platform.Architecture, func(t *testing.T) {
			img, err := b.layout.Index.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.OS != "linux" || cf.Architecture != d.Platform.Architecture {
				t.Errorf("config platform %s/%s, index says %s", cf.OS, cf.Architecture, d.Platform)
			}
			if cf.Config.User != "65532:65532" || !slices.Equal(cf.Config.Entrypoint, []string{"/remediator"}) || len(cf.Config.Cmd) != 0 {
				t.Errorf("config user %q entrypoint %q cmd %q, want 65532:65532 [/remediator] []", cf.Config.User, cf.Config.Entrypoint, cf.Config.Cmd)
			}
			if !cf.Created.Equal(testEpoch) {
				t.Errorf("created %s, want the epoch %s", cf.Created.Time, testEpoch)
			}
			files := extract(t, img)
			var names []string
			for n := range files {
				names = append(names, n)
			}
			slices.Sort(names)
			want := []string{"etc", "etc/group", "etc/nsswitch.conf", "etc/passwd", "etc/ssl", "etc/ssl/certs",
				"etc/ssl/certs/ca-certificates.crt", "home", "home/nonroot", "remediator", "tmp"}
			if !slices.Equal(names, want) {
				t.Errorf("files %q, want exactly %q (no shell, nothing else)", names, want)
			}
			if h := files["remediator"].hdr; h.Mode != 0o555 || h.Uid != 0 || !h.ModTime.Equal(testEpoch) {
				t.Errorf("/remediator mode %o uid %d time %s, want 555, 0, the epoch", h.Mode, h.Uid, h.ModTime)
			}
			if !strings.Contains(string(files["etc/passwd"].data), "nonroot:x:65532:65532:") {
				t.Errorf("/etc/passwd has no 65532 entry:\n%s", files["etc/passwd"].data)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(files["etc/ssl/certs/ca-certificates.crt"].data) {
				t.Error("the CA bundle has no certificate")
			}
			if n := strings.Count(string(files["etc/ssl/certs/ca-certificates.crt"].data), "BEGIN CERTIFICATE"); n < 100 {
				t.Errorf("the CA bundle has %d roots, want the Mozilla set (over 100)", n)
			}
			checkBinary(t, files["remediator"].data, d.Platform.Architecture)
		})
	}
}

// checkBinary checks that bin is a static ELF of arch and, for the host's
// architecture, that it runs --help.
func checkBinary(t *testing.T, bin []byte, arch string) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("/remediator is not an ELF file: %v", err)
	}
	defer f.Close()
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if f.Machine != machine || f.Class != elf.ELFCLASS64 {
		t.Errorf("/remediator is %s %s, want %s", f.Class, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("/remediator has %s: not static", p.Type)
		}
	}
	if arch != runtime.GOARCH || runtime.GOOS != "linux" {
		t.Logf("%s binary not run on %s/%s", arch, runtime.GOOS, runtime.GOARCH)
		return
	}
	path := filepath.Join(t.TempDir(), "remediator")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("/remediator --help: %v\n%s", err, out)
	}
	for _, want := range []string{"Usage:", "remediator sweep", "REMEDIATOR_"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--help output lacks %q:\n%s", want, out)
		}
	}
}

type file struct {
	hdr  *tar.Header
	data []byte
}

// extract reads the image's flattened file system.
func extract(t *testing.T, img v1.Image) map[string]file {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]file{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = file{h, data}
	}
	return files
}

// testSBOM checks that every platform image has one SPDX referrer whose
// binary checksum is that image's /remediator and which names the toolchain.
func testSBOM(t *testing.T, b built) {
	if len(b.layout.SBOMs) != len(b.res.Platforms) {
		t.Fatalf("%d SBOM artifacts, want one per platform (%d)", len(b.layout.SBOMs), len(b.res.Platforms))
	}
	for i, s := range b.layout.SBOMs {
		m, err := s.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		p := b.res.Platforms[i]
		if m.ArtifactType != SPDXMediaType || m.Subject == nil || m.Subject.Digest != p.Digest {
			t.Fatalf("SBOM %d: artifactType %q subject %v, want %s of %s", i, m.ArtifactType, m.Subject, SPDXMediaType, p.Digest)
		}
		layers, err := s.Layers()
		if err != nil || len(layers) != 1 {
			t.Fatalf("SBOM %d: %d layers, %v", i, len(layers), err)
		}
		rc, err := layers[0].Compressed()
		if err != nil {
			t.Fatal(err)
		}
		var doc spdxDoc
		err = json.NewDecoder(rc).Decode(&doc)
		rc.Close()
		if err != nil {
			t.Fatalf("SBOM of %s is not JSON: %v", p.Platform, err)
		}
		img, err := b.layout.Index.Image(p.Digest)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(extract(t, img)["remediator"].data)
		if doc.SPDXVersion != "SPDX-2.3" || doc.Packages[0].Checksums[0].Value != hex.EncodeToString(sum[:]) {
			t.Errorf("SBOM of %s: %s, binary checksum %v, want SPDX-2.3 and %x", p.Platform, doc.SPDXVersion, doc.Packages[0].Checksums, sum)
		}
		names := map[string]string{}
		for _, pk := range doc.Packages {
			names[pk.Name] = pk.VersionInfo
		}
		if names["stdlib"] != b.res.Toolchain || names["k8s.io/client-go"] == "" {
			t.Errorf("SBOM of %s: stdlib %q, client-go %q; want %s and a version", p.Platform, names["stdlib"], names["k8s.io/client-go"], b.res.Toolchain)
		}
	}
}

// testPush pushes the layout with the CLI to go-containerregistry's
// registry on loopback and reads it back: same index digest, and each
// platform image lists its SBOM among its referrers.
func testPush(t *testing.T, b built) {
	srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ref := u.Host + "/argo-oom-remediator/remediator:v0.0.0-test"
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"push", "-layout", b.dir, "-image", ref, "-insecure"}, &stdout, &stderr); code != 0 {
		t.Fatalf("image push exit %d: %s", code, stderr.String())
	}
	want := u.Host + "/argo-oom-remediator/remediator@" + b.res.Digest.String()
	if got := strings.TrimSpace(stdout.String()); got != want {
		t.Errorf("image push printed %q, want %q", got, want)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := idx.Digest(); d != b.res.Digest {
		t.Errorf("registry has index %s, pushed %s", d, b.res.Digest)
	}
	for _, p := range b.res.Platforms {
		refs, err := remote.Referrers(r.Context().Digest(p.Digest.String()))
		if err != nil {
			t.Fatal(err)
		}
		rm, err := refs.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		// pkg/registry derives the listed artifactType from the config media
		// type (the empty config), so only the digest is compared here; the
		// SBOM manifest's own artifactType is checked in testSBOM.
		if len(rm.Manifests) != 1 || rm.Manifests[0].Digest != p.SBOMDigest {
			t.Errorf("referrers of %s (%s): %+v, want the SBOM %s", p.Platform, p.Digest, rm.Manifests, p.SBOMDigest)
		}
	}
}
