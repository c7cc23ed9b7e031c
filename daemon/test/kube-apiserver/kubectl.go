package main

// kubectl, built from the same module (k8s.io/kubernetes/cmd/kubectl), for the deployment tests'
// `kubectl apply -k` and `apply -R -f` against the test API server.
import _ "k8s.io/kubectl/pkg/cmd"
