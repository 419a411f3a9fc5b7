"""Tenant-schema models for chatbots (filled in by the issue that builds this capability)."""
