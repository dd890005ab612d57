"""The weekly email's chart: relevant items per day as a small PNG bar chart.

Pure: counts in, PNG bytes out, no clock and no files, so the same week always gives the same
bytes. Pillow (not matplotlib) draws it: a few rectangles and labels do not need a plotting stack,
and mail clients show a plain PNG everywhere. This is the only module that imports Pillow.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

from PIL import Image, ImageDraw, ImageFont

BACKGROUND = (255, 255, 255)
BAR = (37, 99, 235)
ZERO_MARK = (203, 213, 225)
AXIS = (100, 116, 139)
TEXT = (30, 41, 59)
MUTED = (100, 116, 139)

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
    if width < 80 or height < 80:
        raise ValueError(f"chart too small: {width}x{height} (least 80x80)")
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font: Font = ImageFont.load_default()
    counts = [max(0, count) for _, count in per_day]
    if not counts:
        _centred(draw, "No data for this week", (width // 2, height // 2), font, MUTED)
    else:
        _draw_bars(draw, per_day, counts, width, height, font)
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
