package main

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// SPDXMediaType is the media type of the SBOM blob and the artifactType of
// its manifest.
const SPDXMediaType = "application/spdx+json"

// spdxDoc is the subset of SPDX 2.3 (JSON) the SBOM uses.
type spdxDoc struct {
	SPDXVersion       string         `json:"spdxVersion"`
	DataLicense       string         `json:"dataLicense"`
	SPDXID            string         `json:"SPDXID"`
	Name              string         `json:"name"`
	DocumentNamespace string         `json:"documentNamespace"`
	CreationInfo      spdxCreation   `json:"creationInfo"`
	DocumentDescribes []string       `json:"documentDescribes"`
	Packages          []spdxPackage  `json:"packages"`
	Relationships     []spdxRelation `json:"relationships"`
}

type spdxCreation struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name                  string         `json:"name"`
	SPDXID                string         `json:"SPDXID"`
	VersionInfo           string         `json:"versionInfo,omitempty"`
	DownloadLocation      string         `json:"downloadLocation"`
	FilesAnalyzed         bool           `json:"filesAnalyzed"`
	LicenseConcluded      string         `json:"licenseConcluded"`
	LicenseDeclared       string         `json:"licenseDeclared"`
	CopyrightText         string         `json:"copyrightText"`
	PrimaryPackagePurpose string         `json:"primaryPackagePurpose,omitempty"`
	Checksums             []spdxChecksum `json:"checksums,omitempty"`
	ExternalRefs          []spdxRef      `json:"externalRefs,omitempty"`
	Comment               string         `json:"comment,omitempty"`
}

type spdxChecksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type spdxRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxRelation struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

var spdxIDUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// SPDX is the SBOM of the Go binary bin of platform, made from the build
// information the linker wrote into it (debug/buildinfo): the binary (with
// its SHA-256), the Go standard library of the toolchain, the main module
// and every module linked in, each with its purl; the binary CONTAINS each.
// Nothing in it depends on the time or the machine: created is o.Epoch and
// the namespace is derived from the binary's hash.
func SPDX(bin, platform string, o Options) ([]byte, error) {
	b, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", bin, err)
	}
	sum := sha256.Sum256(b)
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("build information of %s: %w", bin, err)
	}
	var settings []string
	for _, s := range info.Settings {
		settings = append(settings, s.Key+"="+s.Value)
	}
	binID := "SPDXRef-Package-remediator"
	doc := spdxDoc{
		SPDXVersion:       "SPDX-2.3",
		DataLicense:       "CC0-1.0",
		SPDXID:            "SPDXRef-DOCUMENT",
		Name:              "remediator-" + strings.ReplaceAll(platform, "/", "-") + "-" + o.Version,
		DocumentNamespace: fmt.Sprintf("%s/spdx/%s/%s", o.Source, platform, hex.EncodeToString(sum[:])),
		CreationInfo: spdxCreation{
			Created:  o.Epoch.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: argo-oom-remediator-hack-image", "Tool: " + info.GoVersion},
		},
		DocumentDescribes: []string{binID},
		Packages: []spdxPackage{{
			Name: "remediator", SPDXID: binID, VersionInfo: o.Version,
			DownloadLocation: noAssertion, LicenseConcluded: noAssertion, LicenseDeclared: noAssertion, CopyrightText: noAssertion,
			PrimaryPackagePurpose: "APPLICATION",
			Checksums:             []spdxChecksum{{Algorithm: "SHA256", Value: hex.EncodeToString(sum[:])}},
			Comment:               fmt.Sprintf("%s binary /remediator, built by %s with %s", platform, info.GoVersion, strings.Join(settings, " ")),
		}},
	}
	add := func(p spdxPackage) {
		doc.Packages = append(doc.Packages, p)
		doc.Relationships = append(doc.Relationships, spdxRelation{binID, "CONTAINS", p.SPDXID})
	}
	add(modulePackage(0, "stdlib", info.GoVersion, ""))
	add(modulePackage(1, info.Main.Path, o.Version, ""))
	for i, m := range info.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		add(modulePackage(i+2, m.Path, m.Version, m.Sum))
	}
	doc.Relationships = append([]spdxRelation{{"SPDXRef-DOCUMENT", "DESCRIBES", binID}}, doc.Relationships...)
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the SBOM: %w", err)
	}
	return append(out, '\n'), nil
}

const noAssertion = "NOASSERTION"

// modulePackage is the SPDX package of a Go module (or the standard
// library) with its purl; sum is its go.sum hash, kept as a comment since
// SPDX checksums are of files, not of module trees.
func modulePackage(n int, path, version, sum string) spdxPackage {
	p := spdxPackage{
		Name: path, VersionInfo: version,
		SPDXID:           fmt.Sprintf("SPDXRef-Package-%d-%s", n, spdxIDUnsafe.ReplaceAllString(path, "-")),
		DownloadLocation: noAssertion, LicenseConcluded: noAssertion, LicenseDeclared: noAssertion, CopyrightText: noAssertion,
		PrimaryPackagePurpose: "LIBRARY",
		ExternalRefs:          []spdxRef{{"PACKAGE-MANAGER", "purl", "pkg:golang/" + path + "@" + version}},
	}
	if sum != "" {
		p.Comment = "go.sum " + sum
	}
	return p
}
