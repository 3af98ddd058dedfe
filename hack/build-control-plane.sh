#!/usr/bin/env bash
# Builds kube-apiserver and etcd from the Go module proxy into a per-version
# cache directory outside the clone, because the usual envtest binary download
# is not reachable from every machine. Rebuilds only what is missing.
#
# Usage: hack/build-control-plane.sh K8S_VERSION ETCD_VERSION OUT_DIR
#   K8S_VERSION   e.g. 1.37.2 (staging modules resolve to v0.37.2)
#   ETCD_VERSION  e.g. 3.6.16
#   OUT_DIR       where kube-apiserver and etcd land (KUBEBUILDER_ASSETS)
set -euo pipefail

k8s_version=${1:?kubernetes version}
etcd_version=${2:?etcd version}
out=${3:?output directory}
staging_version="v0.${k8s_version#*.}"

log() { printf '[control-plane] %s\n' "$*" >&2; }

mkdir -p "$out"
if [[ -x "$out/kube-apiserver" && -x "$out/etcd" ]]; then
  log "kube-apiserver and etcd v${k8s_version}/v${etcd_version} already built in $out"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod GOTOOLCHAIN=local

if [[ ! -x "$out/kube-apiserver" ]]; then
  log "building kube-apiserver v${k8s_version} from the Go module proxy (about 5 minutes on two cores the first time)"
  mkdir -p "$work/apiserver"
  cd "$work/apiserver"
  go mod init cxloop.dev/hack/kube-apiserver >/dev/null 2>&1
  kgomod=$(go mod download -json "k8s.io/kubernetes@v${k8s_version}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [[ -f "$kgomod" ]] || { log "could not download k8s.io/kubernetes@v${k8s_version}"; exit 1; }
  {
    echo "require k8s.io/kubernetes v${k8s_version}"
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#replace \1 => \1 '"${staging_version}"'#p' "$kgomod"
  } >>go.mod
  cat >main.go <<'GO'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
GO
  log "resolving kube-apiserver dependencies"
  go mod tidy >/dev/null
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X ${pkg}.gitVersion=v${k8s_version}"
    ldflags+=" -X ${pkg}.gitMajor=${k8s_version%%.*}"
    minor=${k8s_version#*.}; minor=${minor%%.*}
    ldflags+=" -X ${pkg}.gitMinor=${minor}"
    ldflags+=" -X ${pkg}.gitTreeState=clean"
  done
  log "compiling kube-apiserver"
  go build -trimpath -ldflags "$ldflags" -o "$out/kube-apiserver.tmp" .
  mv "$out/kube-apiserver.tmp" "$out/kube-apiserver"
  log "kube-apiserver ready: $out/kube-apiserver"
fi

if [[ ! -x "$out/etcd" ]]; then
  log "building etcd v${etcd_version} from the Go module proxy (about 30 seconds)"
  mkdir -p "$work/etcd"
  cd "$work/etcd"
  go mod init cxloop.dev/hack/etcd >/dev/null 2>&1
  cat >main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
GO
  go get "go.etcd.io/etcd/server/v3@v${etcd_version}" >/dev/null 2>&1
  go mod tidy >/dev/null
  go build -trimpath -ldflags "-s -w" -o "$out/etcd.tmp" .
  mv "$out/etcd.tmp" "$out/etcd"
  log "etcd ready: $out/etcd"
fi
