"""The thin Typer CLI over the callable core."""
