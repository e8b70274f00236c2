package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The OCI 1.1 empty config of an artifact manifest: "{}".
const emptyConfigMediaType types.MediaType = "application/vnd.oci.empty.v1+json"

var emptyConfig = []byte("{}")

// artifact is an OCI 1.1 artifact manifest (artifactType, empty config,
// one blob, a subject) as a v1.Image, so that go-containerregistry writes
// it to a layout or a registry like any image; remote.Write also files it
// under the subject's referrers (the referrers API, or the fallback tag
// sha256-<digest> where the registry has none).
type artifact struct {
	manifest []byte
	blob     []byte
	blobType types.MediaType
}

// sbomArtifact is the SPDX document doc as a referrer of subject.
func sbomArtifact(doc []byte, subject v1.Descriptor, epoch time.Time) (v1.Image, error) {
	cfgHash, _, err := v1.SHA256(bytes.NewReader(emptyConfig))
	if err != nil {
		return nil, fmt.Errorf("hashing the empty config: %w", err)
	}
	blobHash, _, err := v1.SHA256(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("hashing the SBOM: %w", err)
	}
	subject.Platform = nil // a subject names the manifest only
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  SPDXMediaType,
		Config:        v1.Descriptor{MediaType: emptyConfigMediaType, Size: int64(len(emptyConfig)), Digest: cfgHash, Data: emptyConfig},
		Layers: []v1.Descriptor{{
			MediaType: SPDXMediaType, Size: int64(len(doc)), Digest: blobHash,
			Annotations: map[string]string{"org.opencontainers.image.title": "sbom.spdx.json"},
		}},
		Subject:     &subject,
		Annotations: map[string]string{"org.opencontainers.image.created": epoch.UTC().Format(time.RFC3339)},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding the SBOM manifest: %w", err)
	}
	return partial.CompressedToImage(&artifact{manifest: raw, blob: doc, blobType: SPDXMediaType})
}

func (a *artifact) RawManifest() ([]byte, error)        { return a.manifest, nil }
func (a *artifact) RawConfigFile() ([]byte, error)      { return emptyConfig, nil }
func (a *artifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a *artifact) ArtifactType() (string, error)       { return SPDXMediaType, nil }
func (a *artifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	d, _, err := v1.SHA256(bytes.NewReader(a.blob))
	if err != nil {
		return nil, err
	}
	if h != d {
		return nil, fmt.Errorf("artifact has no blob %s", h)
	}
	return &blob{data: a.blob, digest: d, mt: a.blobType}, nil
}

// blob is a compressed layer whose bytes are stored as they are.
type blob struct {
	data   []byte
	digest v1.Hash
	mt     types.MediaType
}

func (b *blob) Digest() (v1.Hash, error)            { return b.digest, nil }
func (b *blob) Compressed() (io.ReadCloser, error)  { return io.NopCloser(bytes.NewReader(b.data)), nil }
func (b *blob) Size() (int64, error)                { return int64(len(b.data)), nil }
func (b *blob) MediaType() (types.MediaType, error) { return b.mt, nil }
