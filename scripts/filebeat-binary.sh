#!/usr/bin/env bash
# scripts/filebeat-binary.sh [version]: Filebeat (the Apache-licensed build), compiled once from its
# source on the Go module proxy into .cache/filebeat/<version>/; prints the binary's path. For the
# bench's comparison with a peer shipper (`BENCH_FILEBEAT=1 npm run bench`). Needs Go; the first
# build takes a few minutes. 7.17 is the newest Filebeat the proxy serves: the beats repository's
# 8.x and 9.x tags are not versions of its Go module (github.com/elastic/beats/v7).
set -euo pipefail
version="${1:-7.17.29}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="$PWD/.cache/filebeat/$version/filebeat"
if [ ! -x "$out" ]; then
  command -v go >/dev/null || { echo "filebeat-binary: needs Go on the PATH" >&2; exit 1; }
  module="github.com/elastic/beats/v7@v$version"
  go mod download "$module"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  # The module cache is read-only: build in a copy.
  cp -r "$(go env GOMODCACHE)/$module" "$tmp/beats"
  chmod -R u+w "$tmp/beats"
  mkdir -p "$(dirname "$out")"
  (cd "$tmp/beats" && go build -buildvcs=false -o "$out" ./filebeat) >&2
  "$out" version >&2
fi
echo "$out"
