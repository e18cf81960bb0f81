"""Archiver: stores every DataReceived event through the artifacts output binding."""
