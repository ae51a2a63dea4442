"""The ``aecli`` command line: ``app`` (the Typer root, the one place errors become exit codes),
``options`` (shared option aliases), ``output`` (JSON, notices, progress) and one module per
command family that parses, calls the library and prints.
"""
