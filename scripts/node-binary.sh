#!/usr/bin/env bash
# scripts/node-binary.sh <version>: an official Node.js build of that exact version, for running
# the tests on the image's runtime (and others) on a machine with another Node. Fetched once from
# the npm registry (package node-linux-<arch>, which carries the nodejs.org binary; npm checks
# its integrity) into .cache/node/<version>; prints the directory holding `node`.
set -euo pipefail
version="${1:?usage: $0 <version>}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "node-binary: no Node build for $(uname -m)" >&2; exit 1 ;;
esac
dir="$PWD/.cache/node/$version"
if [ ! -x "$dir/bin/node" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-$arch@$version" >/dev/null)
  mkdir -p "$tmp/x"
  tar xzf "$tmp"/node-linux-"$arch"-"$version".tgz -C "$tmp/x"
  [ "$("$tmp/x/package/bin/node" --version)" = "v$version" ] || { echo "node-binary: not Node $version" >&2; exit 1; }
  mkdir -p "$(dirname "$dir")"
  rm -rf "$dir"
  mv "$tmp/x/package" "$dir"
fi
echo "$dir/bin"
