"""The experiment on a trained run: ``jobs`` (one figure and its numbers each), ``runner`` (the
whole original experiment: reuse or train, then every job, timed) and ``report`` (report.md).

No Typer and no printing here: the jobs return typed results, the command line prints them.
"""
