# The two commands of the README's Quick start. Both set up a fresh machine first.
.PHONY: run replica test unit lint config bench soak platform-up platform-down

run:  ## start Baton (platform + every service), run one content pipeline, keep serving
	bash infra/local/run.sh

replica:  ## a second orchestrator replica beside a running `make run` (README, "Scale out")
	bash infra/local/replica.sh

# Three pytest sessions: the `own_system` tests start Baton again (on Azure's Dapr runtime; with
# Azure blob artifacts; without Dapr resiliency; with a second orchestrator replica) with the same
# app ids and ports, so they run after the first session has stopped everything; the log audit
# then reads every log those runs left.
# Exit code 5 (no tests collected) is not a failure.
test:  ## lint, types, unit and integration tests against real Dapr sidecars, Redis and the local model
	bash infra/local/bootstrap.sh
	$(MAKE) lint
	.venv/bin/python -m pytest tests -m "not own_system and not log_audit"; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 5 ]
	.venv/bin/python -m pytest tests -m own_system; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 5 ]
	.venv/bin/python -m pytest tests -m log_audit

unit:  ## unit tests only (no sidecars)
	.venv/bin/python -m pytest tests/unit

lint:  ## ruff (rules in pyproject.toml) and mypy (strict on services/ and workflows/)
	.venv/bin/ruff check .
	.venv/bin/mypy

config:  ## regenerate dapr.yaml and components/resiliency.yaml from services/common/registry.py
	.venv/bin/python infra/local/render_config.py

bench:  ## benchmarks of every pattern (about 30 minutes); writes bench/results/
	bash infra/local/bootstrap.sh
	.venv/bin/python -m bench --name polyglot

soak:  ## 300 tasks over every pattern while an agent, the orchestrator and Redis fail once each; checks nothing is lost
	bash infra/local/bootstrap.sh
	.venv/bin/python -m bench.soak

platform-up:
	bash infra/local/platform.sh up

platform-down:
	bash infra/local/platform.sh down
