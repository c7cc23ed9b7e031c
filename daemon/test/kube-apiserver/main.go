// Builds kube-apiserver from the k8s.io/kubernetes module at the version pinned in go.mod (the
// replace directives pin the k8s.io staging modules to the matching v0.x release), for tests that
// need a real Kubernetes API. scripts/kube-apiserver.sh builds it once into .cache/.
package main

import _ "k8s.io/kubernetes/cmd/kube-apiserver/app"

func main() {}
