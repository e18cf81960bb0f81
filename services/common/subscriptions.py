"""Programmatic subscriptions: each app answers Dapr's GET /dapr/subscribe (through
dapr-ext-fastapi's DaprApp) with its topics, routes and dead-letter topic. The same code
subscribes locally and on Azure Container Apps, which applies no declarative Subscription
resources in its stable API. What each app subscribes to is declared in the registry
(App.topics); a unit test holds every service's list to it."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dapr.ext.fastapi import DaprApp
from fastapi import FastAPI
from fastapi.routing import APIRoute

from .registry import DEAD_LETTER_TOPIC


@dataclass(frozen=True)
class Subscription:
    topic: str
    route: str
    handler: Callable[..., Any]
    # Where Dapr moves a message once its delivery retries are spent.
    dead_letter_topic: str = DEAD_LETTER_TOPIC


def add_subscriptions(app: FastAPI, pubsub: str, subscriptions: Sequence[Subscription]) -> None:
    """Route each subscription's handler and list it at GET /dapr/subscribe. Only the sidecar
    may call these routes (services/common/apptoken.py), so they stay out of the OpenAPI."""
    dapr = DaprApp(app, router_tags=["subscriptions"])
    for sub in subscriptions:
        dapr.subscribe(pubsub=pubsub, topic=sub.topic, route=sub.route,
                       dead_letter_topic=sub.dead_letter_topic)(sub.handler)
    sidecar_only = {"/dapr/subscribe", *(sub.route for sub in subscriptions)}
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path in sidecar_only:
            route.include_in_schema = False
