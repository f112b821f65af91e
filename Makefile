# jobdesk: `make run` starts everything on embedded defaults; `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# The suite runs against real services: PostgreSQL and Redis on this machine (see .ci/run).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/jobdesk
TEST_REDIS_URL    ?= redis://127.0.0.1:6379/14
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/jobdesk_bench
BENCH_REDIS_URL    ?= redis://127.0.0.1:6379/13

.PHONY: install run services test bench bench-enqueue bench-memory bench-peers bench-admin bench-export bench-chaos bench-charts bench-fanout check clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

# jobdesk's own bytecode, written even under PYTHONDONTWRITEBYTECODE: without it every worker start
# compiles these modules again (0.13 s of a 0.7 s start, measured); quick when it is up to date.
install: $(STAMP)
	$(BIN)/python -m compileall -q project jobs audit exports branding notifications bench >/dev/null

run: install
	$(BIN)/python -m project.devrun

TEST_EXPORTS_KEY = test:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=
TEST_ENV = DEBUG=false SECRET_KEY=test-only-secret-key-not-for-production SECURE_SSL_REDIRECT=false \
	EXPORTS_ENCRYPTION_KEYS=$(TEST_EXPORTS_KEY) MEDIA_ROOT=/tmp/jobdesk-test-media \
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) QUEUE_NAMESPACE=jdtest \
	JOBS_TASK_MODULES=tests.jobtypes

# Installs (Debian packages) and starts what the suite needs when it is missing; quiet when all is there.
SERVICES_SCRIPT := scripts/test-services

services:
	@$(SERVICES_SCRIPT)

# The suite runs with production settings (DEBUG off, manifest static files), so static files are
# collected first, as a deployment does.
test: services install
	$(TEST_ENV) $(BIN)/python manage.py collectstatic --noinput -v 0
	$(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	DEBUG=false SECRET_KEY=bench-only-secret-key SECURE_SSL_REDIRECT=false EXPORTS_ENCRYPTION_KEYS=$(TEST_EXPORTS_KEY) \
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) QUEUE_NAMESPACE=jdbench \
	JOBS_TASK_MODULES=bench.jobtypes \
	$(BIN)/python bench/throughput.py $(BENCH_ARGS)

# Enqueue in a view's transaction, from 8 producers and alone, beside bare RQ (bench/enqueue.py).
bench-enqueue: install
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) $(BIN)/python bench/enqueue.py $(BENCH_ARGS)

# The default worker's memory over 100,000 jobs, recycled and not (bench/worker_memory.py).
bench-memory: install
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) $(BIN)/python bench/worker_memory.py $(BENCH_ARGS)

# jobdesk beside bare RQ, Celery and Dramatiq end to end (bench/peers.py). The peers are the optional
# `bench` dependencies, installed here only; the bench uses its own database and Redis db, flushed.
PEERS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/jobdesk_peers_bench
PEERS_REDIS_URL    ?= redis://127.0.0.1:6379/7

BENCH_STAMP := $(VENV)/.bench-installed-stamp

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q --disable-pip-version-check -e ".[bench]"
	touch $(BENCH_STAMP)

bench-peers: install $(BENCH_STAMP)
	DEBUG=false SECRET_KEY=bench-only-secret-key SECURE_SSL_REDIRECT=false EXPORTS_ENCRYPTION_KEYS=$(TEST_EXPORTS_KEY) \
	DATABASE_URL=$(PEERS_DATABASE_URL) REDIS_URL=$(PEERS_REDIS_URL) QUEUE_NAMESPACE=jdpeers \
	$(BIN)/python bench/peers.py $(BENCH_ARGS)

# The queues page with a full rollup (8 days x N job types) behind its charts (bench/charts_page.py).
bench-charts: install
	DEBUG=false SECRET_KEY=bench-only-secret-key SECURE_SSL_REDIRECT=false ALLOWED_HOSTS=testserver \
	EXPORTS_ENCRYPTION_KEYS=$(TEST_EXPORTS_KEY) REDIS_URL=redis://127.0.0.1:6379/5 \
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/jobdesk_charts_bench \
	$(BIN)/python bench/charts_page.py $(BENCH_ARGS)

bench-admin: install
	DEBUG=false SECRET_KEY=bench-only-secret-key SECURE_SSL_REDIRECT=false ALLOWED_HOSTS=testserver \
	EXPORTS_ENCRYPTION_KEYS=$(TEST_EXPORTS_KEY) REDIS_URL=redis://127.0.0.1:6379/11 QUEUE_NAMESPACE=jdadmin \
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/jobdesk_admin_bench \
	$(BIN)/python bench/admin_scale.py $(BENCH_ARGS)

bench-export: install
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 \
	$(BIN)/python bench/export_scale.py $(BENCH_ARGS)

# A branding fan-out to 50 local shards and 1,000 webhook deliveries through jobs_workers (bench/fanout.py):
# its own database (jobdesk_fanout_bench, made afresh) and its own redis-server on a free port of 127.0.0.1.
bench-fanout: install
	DEBUG=false SECRET_KEY=bench-only-secret-key SECURE_SSL_REDIRECT=false EXPORTS_ENCRYPTION_KEYS=$(TEST_EXPORTS_KEY) \
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 \
	$(BIN)/python bench/fanout.py $(BENCH_ARGS)

# Hosts crash every 3 s, Redis and PostgreSQL restart mid-run (bench/chaos.py). The bench starts its own
# redis-server and, for the PostgreSQL restart, its own cluster: the shared servers are never restarted.
bench-chaos: install
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
	$(BIN)/python bench/chaos.py $(BENCH_ARGS)

check: install
	DEBUG=false SECRET_KEY=$$(head -c 48 /dev/urandom | base64) ALLOWED_HOSTS=jobdesk.example.com \
	EXPORTS_ENCRYPTION_KEYS=$(TEST_EXPORTS_KEY) \
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var staticfiles
