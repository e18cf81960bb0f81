from services.common.serve import serve

serve("services.notifier.main:app")
