"""Analyser: subscribes to DataReceived, analyses the data with the model, publishes AnalysisComplete."""
