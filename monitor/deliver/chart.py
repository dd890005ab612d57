"""The weekly email's charts: relevant items per day as a small PNG bar chart, and relevant items
per language over the week and the eight before it as a PNG line chart.

Why PNG: mail clients run no JavaScript and many block or strip inline SVG (the web page's
charts are SVG); a PNG attached inline (cid:) shows everywhere, and the plain-text part carries
the same numbers as a table for the clients that show no images at all.

Pure: counts in, PNG bytes out, no clock and no files, so the same week always gives the same
bytes. Pillow (not matplotlib) draws it: a few rectangles and labels do not need a plotting stack,
and mail clients show a plain PNG everywhere. This is the only module that imports Pillow.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from datetime import date

from PIL import Image, ImageDraw, ImageFont

BACKGROUND = (255, 255, 255)
BAR = (37, 99, 235)
ZERO_MARK = (203, 213, 225)
AXIS = (100, 116, 139)
TEXT = (30, 41, 59)
MUTED = (100, 116, 139)
THIS_WEEK = (241, 245, 249)  # the band behind the week the email is about
LINES = ((37, 99, 235), (22, 163, 74), (217, 119, 6), (220, 38, 38), (124, 58, 237), (8, 145, 178))

# English names by hand: strftime("%a") follows the process locale, and the email is in English.
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

Font = ImageFont.ImageFont | ImageFont.FreeTypeFont


def relevant_per_day_png(
    per_day: Sequence[tuple[date, int]], *, width: int = 640, height: int = 240
) -> bytes:
    """Draw one bar per day, its count above it and "Mon 16" below; an empty week says so.

    Negative counts are drawn as zero. The image is exactly `width` × `height` pixels.
    """
    counts = [max(0, count) for _, count in per_day]

    def draw(canvas: ImageDraw.ImageDraw, font: Font) -> None:
        if not counts:
            _centred(canvas, "No data for this week", (width // 2, height // 2), font, MUTED)
        else:
            _draw_bars(canvas, per_day, counts, width, height, font)

    return _png(width, height, 80, draw)


def _png(
    width: int, height: int, least: int, draw: Callable[[ImageDraw.ImageDraw, Font], None]
) -> bytes:
    """A white `width` × `height` PNG that `draw` paints (with the default font)."""
    if width < least or height < least:
        raise ValueError(f"chart too small: {width}x{height} (least {least}x{least})")
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw(ImageDraw.Draw(image), ImageFont.load_default())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _draw_bars(
    draw: ImageDraw.ImageDraw,
    per_day: Sequence[tuple[date, int]],
    counts: list[int],
    width: int,
    height: int,
    font: Font,
) -> None:
    line = _text_height(draw, font)
    top = line + 10  # room for the count above the tallest bar
    baseline = height - 2 * line - 14  # room for two label lines below
    left, right = 12, width - 12
    slot = (right - left) / len(counts)
    bar_width = max(2, int(slot * 0.6))
    tallest = max(counts)
    draw.line([(left, baseline), (right, baseline)], fill=AXIS, width=1)
    for index, ((day, _), count) in enumerate(zip(per_day, counts, strict=True)):
        centre = int(left + slot * index + slot / 2)
        x0, x1 = centre - bar_width // 2, centre + bar_width // 2
        if count and tallest:
            bar_top = baseline - round((baseline - top) * count / tallest)
            draw.rectangle([(x0, bar_top), (x1, baseline - 1)], fill=BAR)
        else:
            bar_top = baseline - 2  # a zero day still shows a sliver, so the gap reads as zero
            draw.rectangle([(x0, bar_top), (x1, baseline - 1)], fill=ZERO_MARK)
        _centred(draw, str(count), (centre, bar_top - line // 2 - 4), font, TEXT)
        day_name, day_month = WEEKDAYS[day.weekday()], f"{day.day} {MONTHS[day.month - 1]}"
        _centred(draw, day_name, (centre, baseline + line // 2 + 5), font, MUTED)
        _centred(draw, day_month, (centre, baseline + line + line // 2 + 8), font, MUTED)


def _text_height(draw: ImageDraw.ImageDraw, font: Font) -> int:
    _, top, _, bottom = draw.textbbox((0, 0), "Ag0", font=font)
    return int(bottom - top)


def _centred(
    draw: ImageDraw.ImageDraw,
    text: str,
    centre: tuple[int, int],
    font: Font,
    colour: tuple[int, int, int],
) -> None:
    draw.text(centre, text, fill=colour, font=font, anchor="mm")


def lang_weeks_png(
    weeks: Sequence[tuple[str, Mapping[str, int]]],
    langs: Sequence[tuple[str, str]],
    *,
    width: int = 640,
    height: int = 260,
) -> bytes:
    """One line per language (`langs`: code and name, in the order of the legend) across the
    weeks, oldest first, the last (the email's week) on a shaded band; "16 Nov" under each
    week (its label, as "16 Nov"), the largest count on the left. No weeks, or no language, says so."""

    def draw(canvas: ImageDraw.ImageDraw, font: Font) -> None:
        if not weeks or not langs:
            centre = (width // 2, height // 2)
            _centred(canvas, "No relevant items in these weeks", centre, font, MUTED)
        else:
            _draw_lines(canvas, weeks, langs, width, height, font)

    return _png(width, height, 160, draw)


def _draw_lines(
    draw: ImageDraw.ImageDraw,
    weeks: Sequence[tuple[str, Mapping[str, int]]],
    langs: Sequence[tuple[str, str]],
    width: int,
    height: int,
    font: Font,
) -> None:
    line = _text_height(draw, font)
    top, baseline = 2 * line + 14, height - line - 12  # the legend above, week labels below
    left, right = 34, width - 12
    slot = (right - left) / len(weeks)
    tallest = max((max(0, n) for _, counts in weeks for n in counts.values()), default=0) or 1
    draw.rectangle([(right - slot, top - 4), (right, baseline)], fill=THIS_WEEK)
    draw.line([(left, baseline), (right, baseline)], fill=AXIS, width=1)
    draw.text((left - 6, top), str(tallest), fill=MUTED, font=font, anchor="rm")
    draw.text((left - 6, baseline), "0", fill=MUTED, font=font, anchor="rm")
    xs = [int(left + slot * n + slot / 2) for n in range(len(weeks))]
    for x, (label, _) in zip(xs, weeks, strict=True):
        _centred(draw, label, (x, baseline + line // 2 + 6), font, MUTED)
    legend_x = left
    for n, (code, name) in enumerate(langs):
        colour = LINES[n % len(LINES)]
        points = [
            (x, baseline - round((baseline - top) * max(0, counts.get(code, 0)) / tallest))
            for x, (_, counts) in zip(xs, weeks, strict=True)
        ]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for x, y in points:
            draw.ellipse([(x - 3, y - 3), (x + 3, y + 3)], fill=colour)
        draw.rectangle([(legend_x, 6), (legend_x + 10, 6 + line)], fill=colour)
        draw.text((legend_x + 14, 6), name, fill=TEXT, font=font)
        legend_x += 14 + int(draw.textlength(name, font=font)) + 16
