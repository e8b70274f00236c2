package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultSource is the repository the image labels point at.
const DefaultSource = "https://github.com/argo-oom-remediator/argo-oom-remediator"

// The image's user and entrypoint.
const (
	UID        = 65532
	User       = "65532:65532"
	Entrypoint = "/remediator"
)

// Options says what Build builds and where.
type Options struct {
	Root      string    // repository root: ./remediator, hack/versions.env
	Out       string    // OCI layout directory, replaced
	Platforms []string  // os/arch
	Epoch     time.Time // every timestamp
	Version   string
	Revision  string
	Source    string
	Tag       string // org.opencontainers.image.ref.name in index.json; default Version
	SBOMDir   string // if set, <os>-<arch>.spdx.json and <os>-<arch>.digest (the image's) go there too
	Log       io.Writer
}

// Result is what Build wrote.
type Result struct {
	Digest    v1.Hash // the image index
	Toolchain string  // the go toolchain the binaries were built with
	Platforms []PlatformResult
}

// PlatformResult is one platform's image.
type PlatformResult struct {
	Platform       string
	Digest         v1.Hash // the image manifest
	CompressedSize int64   // sum of the compressed layers
	BinarySize     int64
	SBOMDigest     v1.Hash // the SBOM artifact manifest (referrer of Digest)
}

// Build compiles the remediator for every platform and writes the image
// index, the images and their SBOM referrers as an OCI layout to o.Out.
func Build(ctx context.Context, o Options) (*Result, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Tag == "" {
		o.Tag = o.Version
	}
	if o.Source == "" {
		o.Source = DefaultSource
	}
	toolchain, err := PinnedToolchain(o.Root)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "image-build-")
	if err != nil {
		return nil, fmt.Errorf("creating a build directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	roots, nroots, err := caBundle()
	if err != nil {
		return nil, err
	}
	base, err := rootLayer(roots, o.Epoch)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "image: root file system layer with %d CA roots (golang.org/x/crypto/x509roots/fallback)\n", nroots)

	res := &Result{Toolchain: toolchain}
	var adds []mutate.IndexAddendum
	var sboms []v1.Image
	for _, p := range o.Platforms {
		goos, goarch, ok := strings.Cut(p, "/")
		if !ok {
			return nil, fmt.Errorf("platform %q: want os/arch", p)
		}
		bin := filepath.Join(tmp, goos+"_"+goarch, "remediator")
		fmt.Fprintf(o.Log, "image: building ./remediator for %s with %s\n", p, toolchain)
		if err := goBuild(ctx, o.Root, toolchain, goos, goarch, bin); err != nil {
			return nil, err
		}
		img, err := platformImage(base, bin, goos, goarch, o)
		if err != nil {
			return nil, err
		}
		desc, err := descriptorOf(img, &v1.Platform{OS: goos, Architecture: goarch})
		if err != nil {
			return nil, err
		}
		doc, err := SPDX(bin, p, o)
		if err != nil {
			return nil, err
		}
		sbom, err := sbomArtifact(doc, desc, o.Epoch)
		if err != nil {
			return nil, err
		}
		pr, err := summarize(img, bin, sbom, p)
		if err != nil {
			return nil, err
		}
		if err := writeSBOMFiles(o.SBOMDir, p, doc, pr.Digest); err != nil {
			return nil, err
		}
		res.Platforms = append(res.Platforms, pr)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: desc.Platform}})
		sboms = append(sboms, sbom)
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	idx = mutate.Annotations(idx, labels(o)).(v1.ImageIndex)
	if res.Digest, err = idx.Digest(); err != nil {
		return nil, fmt.Errorf("digest of the image index: %w", err)
	}
	if err := writeLayout(o.Out, o.Tag, idx, sboms); err != nil {
		return nil, err
	}
	return res, nil
}

// PinnedToolchain returns GO_TOOLCHAIN of root/hack/versions.env: the Go
// toolchain the shipped binary is built with.
func PinnedToolchain(root string) (string, error) {
	path := filepath.Join(root, "hack", "versions.env")
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading the pinned toolchain: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "GO_TOOLCHAIN="); ok && v != "" {
			return v, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return "", fmt.Errorf("%s has no GO_TOOLCHAIN= line", path)
}

// goBuild builds ./remediator as shipped: static, trimmed, stripped, no VCS
// stamp (the commit is in the labels and the SBOM), with the pinned
// toolchain and the caller's GOFLAGS ignored, so the binary depends only on
// the sources and the toolchain.
func goBuild(ctx context.Context, root, toolchain, goos, goarch, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, "./remediator")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN="+toolchain, "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch,
		"GOFLAGS=", "GOAMD64=v1", "GOARM64=v8.0", "GOEXPERIMENT=", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./remediator for %s/%s: %w\n%s", goos, goarch, err, b)
	}
	return nil
}

// platformImage is the OCI image of one platform: the shared root layer,
// the binary layer and a config running the binary as 65532.
func platformImage(base v1.Layer, bin, goos, goarch string, o Options) (v1.Image, error) {
	binLayer, err := binaryLayer(bin, o.Epoch)
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	created := v1.Time{Time: o.Epoch}
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		OS:           goos,
		Architecture: goarch,
		Created:      created,
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			User:       User,
			Entrypoint: []string{Entrypoint},
			WorkingDir: "/",
			Env:        []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
			Labels:     labels(o),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("config of the %s/%s image: %w", goos, goarch, err)
	}
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: created, CreatedBy: "hack/image: /etc (passwd, group, CA roots), /tmp, /home/nonroot"}},
		mutate.Addendum{Layer: binLayer, History: v1.History{Created: created, CreatedBy: "hack/image: go build -trimpath -ldflags='-s -w' ./remediator"}},
	)
	if err != nil {
		return nil, fmt.Errorf("layers of the %s/%s image: %w", goos, goarch, err)
	}
	return img, nil
}

// labels are the OCI annotations of the index and the labels of every image.
func labels(o Options) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "argo-oom-remediator",
		"org.opencontainers.image.description": "Rescues Argo Workflows stuck in Running after an OOMKilled or deleted pod",
		"org.opencontainers.image.source":      o.Source,
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.created":     o.Epoch.Format(time.RFC3339),
	}
	if o.Revision != "" {
		l["org.opencontainers.image.revision"] = o.Revision
	}
	return l
}

func descriptorOf(img v1.Image, p *v1.Platform) (v1.Descriptor, error) {
	d, err := img.Digest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("image digest: %w", err)
	}
	sz, err := img.Size()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("image manifest size: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("image media type: %w", err)
	}
	return v1.Descriptor{MediaType: mt, Size: sz, Digest: d, Platform: p}, nil
}

func summarize(img v1.Image, bin string, sbom v1.Image, p string) (PlatformResult, error) {
	pr := PlatformResult{Platform: p}
	var err error
	if pr.Digest, err = img.Digest(); err != nil {
		return pr, fmt.Errorf("%s image digest: %w", p, err)
	}
	if pr.SBOMDigest, err = sbom.Digest(); err != nil {
		return pr, fmt.Errorf("%s SBOM digest: %w", p, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return pr, fmt.Errorf("%s layers: %w", p, err)
	}
	for _, l := range layers {
		sz, err := l.Size()
		if err != nil {
			return pr, fmt.Errorf("%s layer size: %w", p, err)
		}
		pr.CompressedSize += sz
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return pr, fmt.Errorf("%s binary: %w", p, err)
	}
	pr.BinarySize = fi.Size()
	return pr, nil
}

// writeSBOMFiles puts the SBOM of platform and the digest of its image
// next to each other in dir, for the release's SBOM attestation (cosign
// attest --predicate <sbom> <repo>@<digest>). Nothing without dir.
func writeSBOMFiles(dir, platform string, doc []byte, digest v1.Hash) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	base := filepath.Join(dir, strings.ReplaceAll(platform, "/", "-"))
	if err := os.WriteFile(base+".spdx.json", doc, 0o644); err != nil {
		return fmt.Errorf("writing the SBOM: %w", err)
	}
	if err := os.WriteFile(base+".digest", []byte(digest.String()+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing the image digest: %w", err)
	}
	return nil
}

// writeLayout replaces dir with an OCI layout holding the index (named tag
// in index.json) and the SBOM artifacts next to it.
func writeLayout(dir, tag string, idx v1.ImageIndex, sboms []v1.Image) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing the old layout %s: %w", dir, err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("creating the layout %s: %w", dir, err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
		return fmt.Errorf("writing the image index to %s: %w", dir, err)
	}
	for _, s := range sboms {
		if err := p.AppendImage(s); err != nil {
			return fmt.Errorf("writing an SBOM to %s: %w", dir, err)
		}
	}
	return nil
}
