"""The Textual TUI: ``aecli train --tui`` (live training) and ``aecli tui RUN_DIR`` (explorer)."""
