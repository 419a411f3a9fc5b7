"""Tenant-schema models for campaigns (filled in by the issue that builds this capability)."""
