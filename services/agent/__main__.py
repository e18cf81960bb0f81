import uvicorn

from services.common.logs import setup_logging
from services.common.settings import get_settings

settings = get_settings()
setup_logging(settings.app_id)
uvicorn.run("services.agent.main:app", host=settings.host, port=settings.port, log_config=None)
