from services.common.serve import serve

serve("services.archiver.main:app")
