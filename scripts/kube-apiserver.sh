#!/usr/bin/env bash
# A real kube-apiserver for tests, built from the k8s.io/kubernetes Go module pinned in
# daemon/test/kube-apiserver/go.mod (through the Go module proxy), once, into .cache/kube/.
#   scripts/kube-apiserver.sh build     build (or reuse) it; prints the binary's path
#   scripts/kube-apiserver.sh etcd      build (or reuse) etcd from daemon/test/etcd; prints its path
# Measured here: kube-apiserver cold ~4 min, etcd ~40 s; with etcd on 127.0.0.1, self-generated
# serving certs (--cert-dir), a token file and RBAC, kube-apiserver is ready in ~4 s.
set -euo pipefail
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
module_dir="$repo_dir/daemon/test/kube-apiserver"
out_dir="$repo_dir/.cache/kube"
version="$(sed -n 's/^require k8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' "$module_dir/go.mod")"
bin="$out_dir/kube-apiserver-$version"

case "${1:-}" in
  build)
    if [ ! -x "$bin" ]; then
      command -v go >/dev/null 2>&1 || { echo "kube-apiserver: Go is needed to build it" >&2; exit 1; }
      mkdir -p "$out_dir"
      echo "kube-apiserver: building $version (a few minutes the first time)" >&2
      (cd "$module_dir" && go build -trimpath -o "$bin.tmp" \
        -ldflags "-X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$version" | cut -d. -f2)" \
        k8s.io/kubernetes/cmd/kube-apiserver)
      mv "$bin.tmp" "$bin"
    fi
    echo "$bin"
    ;;
  etcd)
    etcd_dir="$repo_dir/daemon/test/etcd"
    etcd_version="$(sed -n 's/^require go.etcd.io\/etcd\/server\/v3 \(v[0-9.]*\)$/\1/p' "$etcd_dir/go.mod")"
    etcd_bin="$out_dir/etcd-$etcd_version"
    if [ ! -x "$etcd_bin" ]; then
      mkdir -p "$out_dir"
      (cd "$etcd_dir" && go build -trimpath -o "$etcd_bin.tmp" go.etcd.io/etcd/server/v3)
      mv "$etcd_bin.tmp" "$etcd_bin"
    fi
    echo "$etcd_bin"
    ;;
  *)
    echo "usage: $0 build|etcd" >&2
    exit 2
    ;;
esac
