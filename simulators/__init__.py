"""Stand-alone fake servers of the external systems, for tests and the demo (stdlib only)."""
