"""The orchestrator: Baton's public API; hosts the Dapr Workflow runtime."""
