"""`python -m api.cli …`: the `gridgov` command without its console script."""

from api.cli import app

app(prog_name="gridgov")
