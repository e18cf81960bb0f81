from services.common.serve import serve

serve("services.analyser.main:app")
