"""Picket: multi-region uptime monitoring."""

__version__ = "0.1.0"
