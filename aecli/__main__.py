"""Entry point for ``python -m aecli``."""

from aecli.cli.app import main

if __name__ == "__main__":
    main()
