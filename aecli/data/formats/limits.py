"""Caps that every reader of the user's own files checks before it allocates anything.

They stop a lying header, a runaway file or a decompression bomb long before memory is spent;
each is far above any real dataset of 28x28 images (notMNIST_large: 529,114 images; EMNIST
by class: 814,255).
"""

from __future__ import annotations

MAX_IMAGES = 2_000_000
"""Images in one dataset, all splits together (1.6 GB as 28x28 uint8)."""

MAX_CLASSES = 1_000
"""Distinct labels of one dataset (labels are 0 .. MAX_CLASSES - 1)."""

MAX_SOURCE_PIXELS = 40_000_000
"""Pixels of one image of an image folder, read from its header before it is decoded."""

MAX_IMAGE_FILE_BYTES = 64 << 20
"""Bytes of one image file of an image folder, checked before it is read."""

MAX_CSV_LINE_BYTES = 16 << 10
"""Bytes of one CSV line: 785 values of up to "255," take 3.1 KiB, with room for spaces."""
