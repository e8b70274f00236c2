# syntax=docker/dockerfile:1
# The remediator image: a static Go binary on distroless/static (no shell, no
# libc), running as the distroless nonroot user 65532. Built the same way as
# `make build` and hack/check-static.sh, which checks that the binary is static.
#
#   docker build -t ghcr.io/argo-oom-remediator/remediator:<tag> .
#   docker buildx build --platform linux/amd64,linux/arm64 -t ... --push .

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS=linux
ARG TARGETARCH
WORKDIR /src
# Only what the binary is built from; the module cache and build cache mounts
# keep downloads and compilation across builds (`go mod download` would also
# fetch the test-only modules).
COPY go.mod go.sum ./
COPY remediator/ remediator/
COPY internal/ internal/
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w" -o /out/remediator ./remediator

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/remediator /remediator
USER 65532:65532
ENTRYPOINT ["/remediator"]
