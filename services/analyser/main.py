from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.model import ModelClient
from services.common.serve import add_health
from services.common.settings import get_settings

from . import handlers


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.model = ModelClient(get_settings())
    yield


app = FastAPI(title="Baton analyser", lifespan=lifespan)
app.include_router(handlers.router)
add_health(app, subscribes=["data-received"], publishes=["analysis-complete"])
