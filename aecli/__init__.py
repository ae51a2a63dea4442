"""aecli: a tied-weight 2-D autoencoder you train, inspect and generate from in the terminal.

Imports nothing heavy so that ``aecli --help`` starts instantly.
"""

__version__ = "0.1.0"
