"""Offline checks of the Kubernetes deployment: Dockerfile, Helm values, run pod manifests."""
