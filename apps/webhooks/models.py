"""Tenant-schema models for webhooks (filled in by the issue that builds this capability)."""
