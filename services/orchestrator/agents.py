"""GET /agents: every agent in the registry with its role, the parts it plays, its health
(through its sidecar) and the state of Baton's circuit breaker for it."""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter

from services.common import sidecar
from services.common.registry import REGISTRY
from services.common.serve import StoresDep

from .auth import READ
from .responses import GUARDED, errors

router = APIRouter(prefix="/agents", tags=["agents"], dependencies=[READ], responses=errors(*GUARDED))


@router.get("")
def list_agents(stores: StoresDep) -> dict[str, Any]:
    agents = REGISTRY.agents
    with ThreadPoolExecutor(max_workers=len(agents)) as pool:  # each check waits at most 2 s
        health = list(pool.map(sidecar.app_health, [a.app_id for a in agents]))
    return {"agents": [
        {"app_id": a.app_id, "role": a.role, "parts": [{"pattern": p.pattern, "part": p.name} for p in a.parts],
         "health": status, "breaker": stores.breakers.get(a.app_id).model_dump()}
        for a, status in zip(agents, health, strict=True)
    ]}
