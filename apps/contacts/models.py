"""Tenant-schema models for contacts (filled in by the issue that builds this capability)."""
