"""Pictures of arrays: the class palette, matplotlib figures and terminal text art.

Everything here is a pure function of numpy arrays (images, codes, labels): no model, no data
loading, no files except ``figures.save_figure``. The CLI and the TUI draw through it alike.
"""
