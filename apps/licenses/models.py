"""License keys (public schema); built by the licensing issue."""
