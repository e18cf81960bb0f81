from services.common.serve import create_service

from .handlers import SUBSCRIPTIONS

app = create_service("Baton analyser", subscriptions=SUBSCRIPTIONS, with_model=True, publishes=["analysis-complete"])
