# One image for every Baton service. Which one runs is chosen exactly as dapr.yaml chooses
# it: the command (`python -m services.<service>`) and the environment (APP_ID, BATON_PORT,
# BATON_AGENT_ROLE for agents). The embedded model and the dev tools are not in it: in Azure
# the agents call Azure OpenAI or another OpenAI-compatible endpoint.

# Build stage: a virtualenv with the pinned run-time requirements (every one ships a wheel,
# so no compiler is needed even here).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements-runtime.txt /tmp/requirements-runtime.txt
RUN python -m venv /opt/baton \
 && /opt/baton/bin/pip install --only-binary=:all: -r /tmp/requirements-runtime.txt

# Final stage: the virtualenv and Baton's code, run as an unprivileged user.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin baton
COPY --from=build /opt/baton /opt/baton
WORKDIR /app
COPY services/ services/
COPY workflows/ workflows/
ENV PATH=/opt/baton/bin:$PATH PYTHONPATH=/app PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 BATON_HOST=0.0.0.0
USER 10001
EXPOSE 8080
CMD ["python", "-m", "services.orchestrator"]
