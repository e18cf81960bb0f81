# The two commands of the README's Quick start. Both set up a fresh machine first.
.PHONY: run test unit bench platform-up platform-down

run:  ## start Baton (platform + every service), run one content pipeline, keep serving
	bash infra/local/run.sh

test:  ## unit and integration tests against real Dapr sidecars, Redis and the local model
	bash infra/local/bootstrap.sh
	.venv/bin/python -m pytest tests

unit:  ## unit tests only (no sidecars)
	.venv/bin/python -m pytest tests/unit

bench:  ## benchmarks of every pattern (about 30 minutes); writes bench/results/
	bash infra/local/bootstrap.sh
	.venv/bin/python -m bench --name polyglot

platform-up:
	bash infra/local/platform.sh up

platform-down:
	bash infra/local/platform.sh down
