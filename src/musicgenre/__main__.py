"""`python -m musicgenre`: the same command as the `musicgenre` script."""

from musicgenre.cli import app

app(prog_name="musicgenre")
