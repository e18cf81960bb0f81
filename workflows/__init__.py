"""Dapr Workflows that drive Baton's coordination patterns, one module per pattern."""
