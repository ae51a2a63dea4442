"""Text art: images become recognisable, correctly sized terminal text in every mode."""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console

from aecli.render import textart as ta
from aecli.render.palette import CLASS_COLORS, to_unit


def digit_one() -> np.ndarray:
    """A 28x28 uint8 '1': a vertical bar, 4 pixels wide, rows 4..23."""
    img = np.zeros((28, 28), np.uint8)
    img[4:24, 12:16] = 255
    return img


def digit_seven() -> np.ndarray:
    """A 28x28 uint8 '7': a top bar and a diagonal stroke down to the left."""
    img = np.zeros((28, 28), np.uint8)
    img[4:8, 6:22] = 255
    for r in range(8, 24):
        c = 20 - (r - 8) // 2
        img[r, c - 2 : c + 2] = 255
    return img


def test_resample_area_average_is_exact_on_blocks():
    img = np.zeros((4, 4), np.float32)
    img[:2, :2] = 1.0  # top-left quarter inked
    small = ta.resample(img, 2, 2)
    np.testing.assert_allclose(small, [[1, 0], [0, 0]])
    # a non-integer factor keeps the mean ink (area averaging conserves mass)
    odd = ta.resample(digit_seven(), 10, 10)
    assert odd.mean() == pytest.approx(to_unit(digit_seven()).mean(), rel=1e-5)
    # upsampling by 2 replicates pixels
    np.testing.assert_allclose(ta.resample(img, 8, 8)[:4, :4], 1.0)


def test_thin_stroke_survives_downsampling():
    img = np.zeros((28, 28), np.uint8)
    img[:, 13] = 255  # one pixel wide line
    lines = ta.render_lines(img, width=7, mode="shade")
    assert all(line.strip() for line in lines), "a 1-px stroke must not vanish at 1/4 size"


def test_ascii_one_is_a_vertical_bar_in_the_middle():
    lines = ta.render_lines(digit_one(), mode="ascii")
    assert len(lines) == 14 and all(len(line) == 28 for line in lines)
    # rows 2..11 of cells cover pixel rows 4..23: a solid '@' bar over columns 12..15
    for line in lines[2:12]:
        assert line == " " * 12 + "@@@@" + " " * 12
    assert lines[0].strip() == "" and lines[13].strip() == ""
    assert all(ord(ch) < 128 for line in lines for ch in line)


def test_mono_blocks_use_half_blocks_for_two_pixel_rows():
    img = np.zeros((4, 2), np.uint8)
    img[0, 0] = 255  # top pixel only in column 0
    img[3, 1] = 255  # bottom pixel only (second cell row), column 1
    lines = ta.render_lines(img, width=2, height=2, mode="blocks")
    assert lines == ["▀ ", " ▄"]


def test_seven_renders_top_bar_and_diagonal():
    lines = ta.render_lines(digit_seven(), width=14, mode="ascii")
    assert len(lines) == 7 and all(len(line) == 14 for line in lines)
    top = lines[1]  # pixel rows 4..7 -> cell row 1 at half scale (2x4 pixels per cell)
    assert top.strip(" ") and set(top.strip()) <= set("@%#*")
    # the stroke moves left as it goes down
    firsts = [len(line) - len(line.lstrip()) for line in lines[2:6] if line.strip()]
    assert firsts == sorted(firsts, reverse=True) and firsts[0] > firsts[-1]


def test_blocks_colours_carry_the_pixels():
    img = np.zeros((4, 3), np.uint8)
    img[0] = 255  # top row white
    img[1] = 128
    text = ta.render(img, width=3, height=2)
    assert text.plain == "▀▀▀\n▀▀▀"
    span = text.spans[0]
    style = span.style
    assert style.color.triplet == (255, 255, 255)
    assert style.bgcolor.triplet == (128, 128, 128)
    inverted = ta.render(img, width=3, height=2, invert=True).spans[0].style
    assert inverted.color.triplet == (0, 0, 0) and inverted.bgcolor.triplet == (127, 127, 127)


def test_blocks_256_palette_uses_the_grey_ramp():
    img = np.full((2, 1), 128, np.uint8)
    style = ta.render(img, width=1, height=1, palette="256").spans[0].style
    assert style.color.number in range(232, 256)


def test_render_fits_the_box_and_keeps_aspect():
    assert ta.fit_cells(80, 24) == (48, 24)
    assert ta.fit_cells(30, 24) == (30, 15)
    assert ta.fit_cells(7, 1) == (2, 1)
    for max_w, max_h in [(10, 3), (40, 40), (13, 9), (1, 1)]:
        w, h = ta.fit_cells(max_w, max_h)
        assert w <= max_w and h <= max_h
        text = ta.render(digit_seven(), width=w, height=h)
        lines = text.plain.split("\n")
        assert len(lines) == h and all(len(line) == w for line in lines)


def test_float_images_and_flat_images():
    img = to_unit(digit_one()).reshape(-1)  # flat float [0, 1]
    assert ta.render_lines(img, mode="ascii") == ta.render_lines(digit_one(), mode="ascii")
    with pytest.raises(ValueError):
        ta.render_lines(np.zeros(10), mode="ascii")
    with pytest.raises(ValueError):
        ta.render(digit_one(), mode="sixel")


def test_grid_lays_out_rows_with_centred_captions():
    images = [digit_one(), digit_seven(), digit_one()]
    text = ta.grid(images, cols=2, width=10, captions=["1", "7", "one"], gap=2, mode="ascii")
    lines = text.plain.split("\n")
    # two rows of (5 image lines + 1 caption line)
    assert len(lines) == 12
    assert all(len(line) <= 2 * 10 + 2 for line in lines)
    assert lines[5] == "    1     " + "  " + "    7     "
    assert lines[11].strip() == "one"
    row = ta.row(images, width=10, mode="ascii")
    assert len(row.plain.split("\n")) == 5
    assert max(len(line) for line in row.plain.split("\n")) == 3 * 10 + 2


def test_fit_grid_picks_the_largest_size_that_fits():
    w = ta.fit_grid(10, 5, 80, 24, gap=1, caption_lines=1)
    assert w == 14  # 5*14+4 = 74 <= 80 and 2*(7+1) = 16 <= 24; 16 would need 84 columns
    assert ta.fit_grid(100, 10, 20, 5) == 0


def test_grid_renders_through_a_console_at_the_expected_width():
    console = Console(width=200, color_system="truecolor", force_terminal=True, record=True)
    console.print(ta.grid([digit_one()] * 4, cols=4, width=14, captions=list("abcd")))
    out = console.export_text()
    assert out.count("\n") == 8  # 7 image lines + 1 caption line
    assert max(len(line) for line in out.split("\n")) == 4 * 14 + 3


def test_ascii_mode_is_pure_ascii_for_any_image():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    text = ta.grid([img, img], cols=2, width=12, captions=["a", "b"], mode="ascii")
    assert text.plain.isascii()
    assert not text.spans  # no styles: readable on any theme, safe in pipes


def test_shade_mode_has_no_colours_so_it_follows_the_theme():
    text = ta.render(digit_seven(), width=14, mode="shade")
    assert not text.spans
    assert set(text.plain) <= set(ta.SHADE_RAMP + "\n")


def test_auto_mode():
    assert ta.auto_mode("truecolor") == "blocks"
    assert ta.auto_mode(None) == "shade"
    assert ta.auto_mode("256", encoding="ascii") == "ascii"


def test_scatter_places_points_and_colours_by_majority_class():
    pts = np.array([[0.1, 0.9], [0.12, 0.88], [0.9, 0.1], [0.5, 0.5]])
    labels = np.array([1, 1, 2, 0])
    text = ta.scatter(pts, labels, width=10, height=5, bounds=(0, 1, 0, 1), cursor=(0.55, 0.45))
    lines = text.plain.split("\n")
    assert len(lines) == 5 and all(len(line) == 10 for line in lines)
    assert "\u2800" < lines[0][1] <= "\u28ff"  # top-left points as braille (y grows upwards)
    assert "\u2800" < lines[4][9] <= "\u28ff"  # bottom-right
    assert lines[2][5] == "+"  # the cursor covers the centre point
    styles = {text.plain[s.start : s.end]: str(s.style) for s in text.spans}
    assert styles[lines[0][1]] == CLASS_COLORS[1]
    assert styles[lines[4][9]] == CLASS_COLORS[2]
    # points outside the view are dropped, not clipped to the border
    off = ta.scatter(np.array([[5.0, 5.0]]), np.array([0]), width=4, height=2, bounds=(0, 1, 0, 1))
    assert off.plain.strip() == ""


def test_legend_lists_class_names():
    text = ta.legend(["0", "1", "2"])
    assert text.plain == "●0 ●1 ●2"


def test_hstack_puts_blocks_side_by_side():
    a = ta.render(digit_one(), width=4, mode="ascii")  # 4 x 2
    b = ta.render(digit_seven(), width=6, mode="ascii")  # 6 x 3
    lines = ta.hstack([a, b], gap=2).plain.split("\n")
    assert len(lines) == 3
    assert all(line[4:6] == "  " for line in lines)
    assert lines[2][:4] == "    "  # the shorter block is padded, not shifted


def test_plain_blocks_carry_no_colour():
    img = np.zeros((28, 28), np.uint8)
    img[:14] = 255  # ink on the top half
    text = ta.render(img, width=28, mode="blocks", palette="plain")
    assert not text.spans and "█" in text.plain  # no styles: readable where colour is not shown
    assert text.plain == "\n".join(ta.render_lines(img, width=28, mode="blocks"))


def _console(encoding: str = "utf-8", **kw) -> Console:
    import io

    return Console(file=io.TextIOWrapper(io.BytesIO(), encoding=encoding), **kw)


def test_pick_mode_defaults_and_choices():
    from aecli.cli.ascii import TextMode, pick_mode

    notes: list[str] = []
    tty = _console(force_terminal=True, color_system="truecolor")
    assert pick_mode(tty, None, notes.append) == ("blocks", "truecolor")  # today's default
    mono_tty = _console(force_terminal=True, color_system=None)
    assert pick_mode(mono_tty, None, notes.append) == ("shade", "plain")
    file = _console()  # not a terminal: a file or a pipe
    assert pick_mode(file, None, notes.append) == ("ascii", "plain")
    assert pick_mode(file, TextMode.shades, notes.append) == ("shade", "plain")
    assert pick_mode(file, TextMode.blocks, notes.append) == ("blocks", "plain")
    assert pick_mode(tty, TextMode.ascii, notes.append)[0] == "ascii"
    assert notes == []
    lang_c = _console("ascii", force_terminal=True, color_system="truecolor")
    assert pick_mode(lang_c, None, notes.append)[0] == "ascii" and notes == []
    assert pick_mode(lang_c, TextMode.blocks, notes.append)[0] == "ascii"
    assert len(notes) == 1 and "--text-mode blocks" in notes[0] and "using ascii" in notes[0]
