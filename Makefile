# The two commands a newcomer needs: `make run` and `make test`.
.PHONY: run test env migrate seed lint format bench worker messages

env: .venv/.synced
.venv/.synced: pyproject.toml uv.lock scripts/bootstrap.sh
	@scripts/bootstrap.sh
	@touch $@

## make run: the back-office with demo data on SQLite, tasks inline, at http://127.0.0.1:8000
run: env
	.venv/bin/python manage.py migrate --noinput
	.venv/bin/python manage.py seed_demo --if-empty
	.venv/bin/python manage.py runserver 127.0.0.1:8000

## make test: ruff, mypy, import-linter and the whole suite against throwaway PostgreSQL, Redis, Celery
test: env
	scripts/test.sh $(ARGS)

lint: env
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/lint-imports && .venv/bin/mypy .

format: env
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .

messages: env
	.venv/bin/python manage.py makemessages -l pt_BR --ignore=.venv --ignore=.tools --ignore=var --ignore=tests
	.venv/bin/python manage.py compilemessages --ignore=.venv --ignore=.tools

worker: env
	.venv/bin/celery -A oms worker --loglevel=INFO
