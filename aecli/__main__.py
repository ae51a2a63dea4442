"""Entry point for ``python -m aecli``."""

from aecli.cli import main

if __name__ == "__main__":
    main()
