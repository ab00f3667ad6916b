"""The collector: gRPC control plane, result ingest, consensus and notifications."""
