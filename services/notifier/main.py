from services.common.serve import create_service

from .handlers import SUBSCRIPTIONS

app = create_service("Baton notifier", subscriptions=SUBSCRIPTIONS)
