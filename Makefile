# Shortcuts for the two README commands and a few everyday tasks.
.PHONY: up test check sample bench clean

up:
	bash scripts/up.sh

test:
	bash scripts/test.sh

check:
	VIRTUAL_ENV="$(CURDIR)/.venv" .venv/bin/dg check defs

sample:
	.venv/bin/cti-pipeline sample-data --out data

bench:
	.venv/bin/python bench/run.py --rows 100000 --files 500

clean:
	rm -rf data/landing data/warehouse data/exports data/.cache .dagster_home bench/out
