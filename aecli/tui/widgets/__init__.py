"""The TUI's widgets, one per module. They draw what their reactive attributes hold (numpy
arrays, numbers, strings) and never import JAX or call a model; images go through
``aecli.render.textart`` and are laid out afresh on every resize."""
