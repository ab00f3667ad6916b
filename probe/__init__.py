"""The probe agent: registers with the collector, runs its checks, publishes results."""
