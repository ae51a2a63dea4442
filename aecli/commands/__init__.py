"""CLI command modules; each has ``register(app)`` adding its thin commands to the Typer app."""
