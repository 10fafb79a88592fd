"""Real servers and helpers for the template's test suite."""
