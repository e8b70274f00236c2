// Command image builds the remediator's container image from Go alone (no
// Docker, no base image) and pushes it.
//
//	image build -root . -out bin/image [-platforms linux/amd64,linux/arm64]
//	image push  -layout bin/image -image ghcr.io/org/remediator:v1.2.3
//
// build compiles ./remediator once per platform (CGO_ENABLED=0, -trimpath,
// -buildvcs=false, -ldflags "-s -w", with the go command it finds, so run it
// under the pinned GOTOOLCHAIN), and writes an OCI image layout: an image
// index with one image per platform and, for each image, an SPDX SBOM made
// from the binary's build information, stored as an OCI 1.1 referrer (an
// artifact manifest whose subject is that image). Every image has two
// layers: the shared root file system (/etc/passwd and /etc/group with the
// nonroot user 65532, /etc/ssl/certs/ca-certificates.crt from the Mozilla
// roots of golang.org/x/crypto/x509roots/fallback, /tmp and /home/nonroot)
// and the binary /remediator. No shell, no libc. Every timestamp is
// -epoch (SOURCE_DATE_EPOCH), so the same sources and toolchain give the
// same digests.
//
// push writes the layout's index, its images and their SBOM referrers to a
// registry, with the credentials of the Docker config (docker login, or
// the GitHub Action docker/login-action). It prints the pushed digest.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: image build|push [flags] (-h for the flags)")
		return 2
	}
	var err error
	switch args[0] {
	case "build":
		err = runBuild(ctx, args[1:], stdout, stderr)
	case "push":
		err = runPush(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "image: unknown command %q (want build or push)\n", args[0])
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "image %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func runBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("image build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.StringVar(&o.Root, "root", ".", "repository root (the module holding ./remediator)")
	fs.StringVar(&o.Out, "out", "bin/image", "OCI layout directory to write (replaced)")
	platforms := fs.String("platforms", "linux/amd64,linux/arm64", "comma-separated os/arch list")
	epoch := fs.String("epoch", os.Getenv("SOURCE_DATE_EPOCH"), "Unix time of every timestamp (default $SOURCE_DATE_EPOCH)")
	fs.StringVar(&o.Version, "version", "dev", "image version (label org.opencontainers.image.version)")
	fs.StringVar(&o.Revision, "revision", "", "source commit (label org.opencontainers.image.revision)")
	fs.StringVar(&o.Source, "source", DefaultSource, "source repository URL (label org.opencontainers.image.source)")
	fs.StringVar(&o.SBOMDir, "sbom-dir", "", "also write <os>-<arch>.spdx.json and <os>-<arch>.digest here (for cosign attest)")
	fs.StringVar(&o.Tag, "tag", "", "tag recorded in the layout's index.json (org.opencontainers.image.ref.name); default the version")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *epoch == "" {
		return fmt.Errorf("no -epoch and no SOURCE_DATE_EPOCH: set it to the commit time (git log -1 --format=%%ct)")
	}
	sec, err := strconv.ParseInt(*epoch, 10, 64)
	if err != nil {
		return fmt.Errorf("epoch %q: %w", *epoch, err)
	}
	o.Epoch = time.Unix(sec, 0).UTC()
	o.Platforms = strings.Split(*platforms, ",")
	o.Log = stderr
	res, err := Build(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s\n", o.Out, res.Digest)
	for _, p := range res.Platforms {
		fmt.Fprintf(stdout, "  %s %s (compressed layers %d bytes, binary %d bytes) sbom %s\n",
			p.Platform, p.Digest, p.CompressedSize, p.BinarySize, p.SBOMDigest)
	}
	return nil
}

func runPush(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("image push", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("layout", "bin/image", "OCI layout written by image build")
	ref := fs.String("image", "", "registry/name:tag to push to")
	insecure := fs.Bool("insecure", false, "allow plain HTTP (a registry on loopback)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *ref == "" {
		return fmt.Errorf("no -image (registry/name:tag)")
	}
	pushed, err := Push(ctx, *dir, *ref, *insecure)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, pushed)
	return nil
}
