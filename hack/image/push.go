package main

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Layout is an OCI layout written by Build, opened: the image index and
// the SBOM artifacts.
type Layout struct {
	Index v1.ImageIndex
	SBOMs []v1.Image
}

// OpenLayout reads dir: the one image index of index.json and the
// manifests that have a subject (the SBOMs).
func OpenLayout(dir string) (*Layout, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the OCI layout %s: %w", dir, err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading %s/index.json: %w", dir, err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading %s/index.json: %w", dir, err)
	}
	var l Layout
	for _, d := range im.Manifests {
		switch d.MediaType {
		case types.OCIImageIndex:
			if l.Index != nil {
				return nil, fmt.Errorf("%s has more than one image index", dir)
			}
			if l.Index, err = top.ImageIndex(d.Digest); err != nil {
				return nil, fmt.Errorf("image index %s in %s: %w", d.Digest, dir, err)
			}
		case types.OCIManifestSchema1:
			img, err := top.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("manifest %s in %s: %w", d.Digest, dir, err)
			}
			l.SBOMs = append(l.SBOMs, img)
		default:
			return nil, fmt.Errorf("%s: unexpected %s %s in index.json", dir, d.MediaType, d.Digest)
		}
	}
	if l.Index == nil {
		return nil, fmt.Errorf("%s has no image index", dir)
	}
	return &l, nil
}

// Push writes the layout's index (with its images) to ref and every SBOM
// artifact by digest to the same repository, where the registry files it
// under its subject's referrers. Credentials come from the Docker config.
// It returns repository@digest of the index.
func Push(ctx context.Context, dir, ref string, insecure bool) (string, error) {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %w", ref, err)
	}
	l, err := OpenLayout(dir)
	if err != nil {
		return "", err
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	if err := remote.WriteIndex(r, l.Index, ropts...); err != nil {
		return "", fmt.Errorf("pushing the image index to %s: %w", r, err)
	}
	for _, s := range l.SBOMs {
		d, err := s.Digest()
		if err != nil {
			return "", fmt.Errorf("SBOM digest: %w", err)
		}
		if err := remote.Write(r.Context().Digest(d.String()), s, ropts...); err != nil {
			return "", fmt.Errorf("pushing the SBOM %s to %s: %w", d, r.Context(), err)
		}
	}
	d, err := l.Index.Digest()
	if err != nil {
		return "", fmt.Errorf("index digest: %w", err)
	}
	return r.Context().Digest(d.String()).String(), nil
}
