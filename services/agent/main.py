"""An agent: a small FastAPI service reached only through Dapr service invocation."""

from services.common.serve import create_service
from services.common.settings import Settings, get_settings

from . import routes, voting
from .roles import ROLES


def known_role(settings: Settings) -> None:
    if settings.agent_role not in ROLES:
        raise RuntimeError(f"BATON_AGENT_ROLE={settings.agent_role!r} is not one of {sorted(ROLES)}")


app = create_service("Baton agent", routes.router, voting.router, with_model=True, check=known_role,
                     role=get_settings().agent_role)
