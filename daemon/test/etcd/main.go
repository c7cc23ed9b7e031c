// Builds etcd (go.etcd.io/etcd/server/v3, version pinned in go.mod) for the kube-apiserver the
// metadata tests run; a module of its own so its dependencies never meet Kubernetes'.
package main

import _ "go.etcd.io/etcd/server/v3/etcdmain"

func main() {}
