#!/usr/bin/env bash
# Builds the remediator exactly as make build and make image do (CGO_ENABLED=0,
# -trimpath, -buildvcs=false, -ldflags "-s -w", GO_TOOLCHAIN) into bin/remediator and checks that it is a
# static executable, as the image (no libc, no loader: docs/image.md) needs.
#
# Usage: hack/check-static.sh [output]   (default: bin/remediator)
#
# Checks, each of which fails the script:
#   1. `go version -m` records CGO_ENABLED=0 and -trimpath in the binary;
#   2. the ELF file has no PT_INTERP program header (no dynamic loader) and no
#      dynamic section (no shared libraries), read with Go's debug/elf so that
#      neither `file` nor binutils is needed;
#   3. if ldd is installed, it agrees ("not a dynamic executable").
# Then prints the size.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/bin/remediator}"
GO="${GO:-go}"

cd "$ROOT"
mkdir -p "$(dirname "$OUT")"
# The toolchain of what ships (GO_TOOLCHAIN in hack/versions.env).
# shellcheck source=versions.env
GOTOOLCHAIN="$(source "$ROOT/hack/versions.env" && echo "$GO_TOOLCHAIN")"
export GOTOOLCHAIN
CGO_ENABLED=0 "$GO" build -trimpath -buildvcs=false -ldflags "-s -w" -o "$OUT" ./remediator

fail() { echo "check-static: $*" >&2; exit 1; }

info="$("$GO" version -m "$OUT")"
grep -Eq $'^\tbuild\tCGO_ENABLED=0$' <<<"$info" || fail "$OUT was not built with CGO_ENABLED=0"
grep -Eq $'^\tbuild\t-trimpath=true$' <<<"$info" || fail "$OUT was not built with -trimpath"

# A stdlib-only Go program, run from a temporary directory outside the module.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/elfcheck.go" <<'GO'
package main

import (
	"debug/elf"
	"fmt"
	"os"
)

func main() {
	f, err := elf.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer f.Close()
	bad := false
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			fmt.Fprintln(os.Stderr, "has a PT_INTERP program header (needs a dynamic loader)")
			bad = true
		case elf.PT_DYNAMIC:
			fmt.Fprintln(os.Stderr, "has a PT_DYNAMIC program header")
			bad = true
		}
	}
	if s := f.Section(".dynamic"); s != nil {
		fmt.Fprintln(os.Stderr, "has a .dynamic section")
		bad = true
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		fmt.Fprintln(os.Stderr, "needs shared libraries:", libs)
		bad = true
	}
	if bad {
		os.Exit(1)
	}
}
GO
(cd "$tmp" && GOFLAGS= GO111MODULE=off CGO_ENABLED=0 "$GO" run elfcheck.go "$OUT") || fail "$OUT is not a static executable"

if command -v ldd >/dev/null 2>&1; then
	ldd_out="$(ldd "$OUT" 2>&1 || true)"
	case "$ldd_out" in
	*"not a dynamic executable"* | *"statically linked"*) ;;
	*) fail "ldd disagrees: $ldd_out" ;;
	esac
fi

size="$(wc -c <"$OUT" | tr -d ' ')"
echo "check-static: $OUT is static ($("$GO" env GOOS)/$("$GO" env GOARCH), $size bytes, $((size / 1024 / 1024)) MiB)"
