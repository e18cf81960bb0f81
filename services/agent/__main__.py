from services.common.serve import serve

serve("services.agent.main:app")
