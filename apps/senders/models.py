"""Tenant-schema models for senders (filled in by the issue that builds this capability)."""
