"""What every Baton service shares: settings, logging, contracts, sidecar and model clients."""
