"""Tenant-schema models for inbox (filled in by the issue that builds this capability)."""
