from services.common.serve import create_service

from . import handlers

app = create_service("Baton analyser", handlers.router, with_model=True,
                     subscribes=["data-received"], publishes=["analysis-complete"])
