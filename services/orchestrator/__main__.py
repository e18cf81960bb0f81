from services.common.serve import serve

serve("services.orchestrator.main:app")
