"""One agent code path, run under several Dapr app ids with different roles."""
