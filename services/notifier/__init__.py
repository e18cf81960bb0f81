"""Notifier: turns DataReceived and AnalysisComplete into stored notifications, and sends
them to a webhook through a Dapr HTTP output binding when one is configured."""
