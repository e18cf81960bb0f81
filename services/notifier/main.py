from services.common.serve import create_service

from . import handlers

app = create_service("Baton notifier", handlers.router, subscribes=["data-received", "analysis-complete"])
