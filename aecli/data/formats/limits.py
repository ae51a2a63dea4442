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

MAX_ARCHIVE_BYTES = MAX_IMAGES * 1024
"""Bytes that the members of one ``.npz`` may hold together, from its zip directory (the images
at 784 bytes each, with room for labels and file names)."""

MAX_PNG_BYTES = 1 << 20
"""Bytes of one PNG member of a notMNIST archive (a 28x28 PNG takes a few hundred)."""

MAX_TAR_MEMBER_BYTES = MAX_IMAGE_FILE_BYTES
"""Bytes of any member of a tar archive of images, PNG or not, checked from its header."""

MAX_TAR_HEADER_BYTES = 64 << 10
"""Bytes of one GNU long-name or pax header of a tar archive (a path of a few hundred bytes)."""

MAX_TAR_HEADER_CHAIN = 8
"""Extension headers (long name, long link, pax) in a row before one member's own header."""

MAX_TAR_MEMBERS = MAX_IMAGES + 10_000
"""Members of one tar archive, folders and ignored entries included."""

MAX_TAR_IGNORED = 10_000
"""Members of an image archive or folder that are not PNGs in class folders (links, other
files); notMNIST has none."""

MAX_UNREADABLE = 1_000
"""Zero-byte or undecodable PNGs skipped in one image set (notMNIST_large has 10 of them)."""

MAX_TAR_BYTES = 4 << 30
"""Bytes of all members of a tar archive together, from their headers (notMNIST_large: ~0.5 GB
of PNGs)."""

MAX_DECODE_SECONDS = 1_800.0
"""Seconds that decoding one archive may take (notMNIST_large takes a few minutes)."""

MAX_PICKLE_ARRAY_BYTES = 2 << 30
"""Bytes that all arrays a pickle builds may hold together: the course's notMNIST.pickle holds
0.69 GB of float32 images, all of notMNIST_large as float32 would be 1.66 GB."""

MAX_PICKLE_OPS = 1_000_000
"""Objects and array rebuilds one pickle may make (the course pickle makes a few dozen)."""
