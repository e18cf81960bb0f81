from services.common.serve import create_service

from . import handlers

app = create_service("Baton archiver", handlers.router, subscribes=["data-received"])
