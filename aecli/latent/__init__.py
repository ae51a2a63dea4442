"""The 2-D code space: ``codes`` (the one jitted encode / decode / per-image error), ``grid``
(code grids and interpolation), ``sampling`` (seeded indices), ``embed`` (PCA, t-SNE, measures).

The package imports nothing itself: each module is imported by name, and JAX, scikit-learn and
openTSNE only inside the functions that need them.
"""
