"""Baton's breakers where Dapr's resiliency resource is not applied, as in Azure Container
Apps: all of Baton without components/resiliency.yaml (instant agents, a 10 s reset time)
runs the same breaker scenario as test_breakers.py. On the main ports: own_system."""

import pytest

from tests.integration.breaker_scenario import breaker_holds_across_an_outage, resiliency_loaded
from tests.integration.conftest import SECRETS, own_baton

pytestmark = pytest.mark.own_system
RESET_SECONDS = 10


@pytest.fixture(scope="module")
def baton_without_resiliency(tmp_path_factory):
    SECRETS.set("webhook-url", None)  # no test webhook listens in this session
    env = {"BATON_MODEL_PROVIDER": "instant", "BATON_BREAKER_RESET_SECONDS": str(RESET_SECONDS)}
    with own_baton("no-resiliency", tmp_path_factory.mktemp("no-resiliency"), {"resiliency.yaml": None},
                   env=env) as run:
        yield run


def test_a_stopped_agent_opens_the_breaker_and_its_return_closes_it_without_dapr_resiliency(
        baton_without_resiliency):
    assert not resiliency_loaded()
    breaker_holds_across_an_outage(baton_without_resiliency, RESET_SECONDS)
