from fastapi import FastAPI

from services.common.serve import add_health

from . import handlers

app = FastAPI(title="Baton archiver")
app.include_router(handlers.router)
add_health(app, subscribes=["data-received"])
