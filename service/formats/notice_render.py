"""The family-search notice as text lines and as a picture (A4 PNG/PDF): fonts, layout, drawing.

Pure: it receives the notice's allowed fields (services/notices.py picks them from the case) or a
NoticePage, and returns text or bytes; no Flask, no database.
"""
from __future__ import annotations

import io
import logging
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

log = logging.getLogger(__name__)

# A4 portrait at 150 dpi.
DPI = 150
PAGE_SIZE = (1240, 1754)
CONTACT_TOP = PAGE_SIZE[1] - 330  # the contact box at the foot of the page
INK, MUTED, RED, LINE = (29, 39, 51), (91, 103, 118), (179, 38, 30), (200, 206, 214)
NO_LINE_START = "，。、；：！？）》」』”’,.;:!?)"  # punctuation that hangs at the end of a line instead


# ---------------------------------------------------------------- text

def cn_date(d: date | None) -> str | None:
    return f"{d.year}年{d.month}月{d.day}日" if d else None


def dialect_phrase(dialect: str) -> str:
    if dialect.endswith("口音"):
        return dialect
    if dialect.endswith(("话", "语", "方言")):
        return f"讲{dialect}"
    return f"{dialect}口音"


def fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def notice_lines(fields: dict) -> list[tuple[str, str]]:
    """The labelled lines of the notice, the same on the page, in HTML and in the pictures."""
    if fields["withdrawn"]:
        return [("公告编号", fields["notice_no"] or ""), ("说明", fields["statement"])]
    rows = [
        ("公告编号", fields["notice_no"]),
        ("姓名", fields["name"]),
        ("性别", fields["sex_label"]),
        ("年龄", fields["age"]),
        ("身高", f"约{fields['height_cm']}厘米" if fields["height_cm"] else None),
        ("体型", fields["build"]),
        ("口音", fields["dialect"]),
        ("发现地点", fields["found_place"]),
        ("发现日期", cn_date(date.fromisoformat(fields["found_date"])) if fields["found_date"] else None),
        ("入站日期", cn_date(date.fromisoformat(fields["arrived_date"])) if fields["arrived_date"] else None),
        ("家乡线索", f"自述{fields['hometown_hint']}" if fields["hometown_hint"] else None),
        ("体貌特征", fields["marks"]),
        ("衣着", fields["clothing"]),
    ]
    return [(label, str(value)) for label, value in rows if value not in (None, "")]


def contact_lines(fields: dict) -> list[str]:
    st = fields["station"]
    ask = "如有疑问" if fields["withdrawn"] else "如有线索"
    return [f"{ask}，请联系{st['name']}"] + ([f"电话：{st['phone']}"] if st["phone"] else [])


def contact_line(fields: dict) -> str:
    return "，".join(contact_lines(fields))



# ---------------------------------------------------------------- fonts

@dataclass(frozen=True)
class FontFile:
    path: str
    index: int = 0


@dataclass(frozen=True)
class Fonts:
    regular: FontFile | None
    bold: FontFile | None

    @property
    def cjk(self) -> bool:
        return self.regular is not None


FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian/Ubuntu fonts-noto-cjk
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Arch
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",  # Fedora
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)


def _simplified_face(path: str, hint: int | None = None) -> FontFile | None:
    """The face of a font collection that draws Simplified Chinese forms (Noto CJK's "SC")."""
    faces = []
    for index in range(12):
        try:
            faces.append(ImageFont.truetype(path, 12, index=index).getname()[0] or "")
        except OSError:
            break
    if not faces:
        return None
    if hint is not None and hint < len(faces):
        return FontFile(path, hint)
    sc = next((i for i, name in enumerate(faces) if name.endswith(" SC") or "SC " in name), 0)
    return FontFile(path, sc)


def _fc_match() -> FontFile | None:
    if shutil.which("fc-match") is None:
        return None
    try:
        out = subprocess.run(
            ["fc-match", "-f", "%{file}\n%{index}\n%{lang}", "Noto Sans CJK SC:lang=zh-cn"],
            capture_output=True, text=True, timeout=5, check=False,
        ).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return None
    if len(out) < 3 or not out[0] or "zh-cn" not in out[2].split("|"):
        return None  # fontconfig fell back to a font without Chinese
    try:
        index = int(out[1])
    except ValueError:
        index = None
    return _simplified_face(out[0], index)


@lru_cache(maxsize=1)
def find_fonts() -> Fonts:
    """A CJK font found at run time (a few known paths, then fontconfig); None: Pillow's default."""
    regular = None
    for path in FONT_CANDIDATES:
        if Path(path).exists():
            regular = _simplified_face(path)
            if regular:
                break
    regular = regular or _fc_match()
    if regular is None:
        log.warning("event=notice_font_missing fallback=pillow_default")
        return Fonts(None, None)
    bold_path = regular.path.replace("Regular", "Bold")
    bold = None
    if bold_path != regular.path and Path(bold_path).exists():
        bold = _simplified_face(bold_path, regular.index)
    log.info("event=notice_font path=%s index=%s", regular.path, regular.index)
    return Fonts(regular, bold or regular)


@lru_cache(maxsize=32)
def load_font(size: int, bold: bool = False):
    fonts = find_fonts()
    chosen = fonts.bold if bold else fonts.regular
    if chosen is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(chosen.path, size, index=chosen.index)


@dataclass(frozen=True)
class NoticePage:
    """Everything drawn on the notice picture: the only data the renderer receives."""

    title: str
    notice_no: str
    lines: tuple[tuple[str, str], ...]
    description: str | None
    contact: tuple[str, ...]
    withdrawn: bool
    statement: str | None
    photo: bytes | None  # the normalised JPEG
    footer: str


# ---------------------------------------------------------------- the picture

def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    """Break text to fit `width` pixels; Chinese has no spaces, so break between any characters."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for ch in paragraph:
            if not line or ch in NO_LINE_START or draw.textlength(line + ch, font=font) <= width:
                line += ch
            else:
                lines.append(line)
                line = ch
        lines.append(line)
    return lines


def _clip(lines: list[str], room: int) -> list[str]:
    """At most `room` lines; a cut ends with an ellipsis."""
    if len(lines) <= room:
        return lines
    kept = lines[: max(0, room)]
    if kept:
        kept[-1] = kept[-1][:-1] + "…"
    return kept


def draw_page(page: NoticePage) -> Image.Image:
    """Draw the notice on an A4 portrait page at 150 dpi."""
    width, height = PAGE_SIZE
    margin = 90
    img = Image.new("RGB", PAGE_SIZE, "white")
    draw = ImageDraw.Draw(img)
    title_font = load_font(120, bold=True)
    draw.text((width // 2, 150), page.title, font=title_font, fill=RED, anchor="mm")
    draw.text((width // 2, 265), f"编号：{page.notice_no}", font=load_font(30), fill=MUTED, anchor="mm")
    draw.line((margin, 310, width - margin, 310), fill=RED, width=4)
    y = 350
    if page.withdrawn:
        draw.text((width // 2, 520), "本公告已撤回", font=load_font(90, bold=True), fill=RED, anchor="mm")
        y = 660
        for line in _wrap(draw, page.statement or "", load_font(48), width - 2 * margin):
            draw.text((width // 2, y), line, font=load_font(48), fill=INK, anchor="mm")
            y += 70
    else:
        # The photo on the left, the facts on the right.
        box = (margin, y, margin + 460, y + 580)
        draw.rectangle(box, outline=LINE, width=2)
        if page.photo:
            with Image.open(io.BytesIO(page.photo)) as photo:
                fitted = ImageOps.contain(photo.convert("RGB"), (box[2] - box[0] - 8, box[3] - box[1] - 8))
            left = box[0] + (box[2] - box[0] - fitted.width) // 2
            img.paste(fitted, (left, box[1] + (box[3] - box[1] - fitted.height) // 2))
        else:
            draw.text(((box[0] + box[2]) // 2, (box[1] + box[3]) // 2), "暂无照片", font=load_font(40), fill=MUTED, anchor="mm")
        # The description goes under both; the facts may run below the photo as far as it leaves room.
        text_font = load_font(34)
        description = _clip(_wrap(draw, page.description or "", text_font, width - 2 * margin), 5)
        facts_bottom = CONTACT_TOP - 40 - 52 * len(description) - 40
        label_w = 150
        fy = y
        label_font, value_font = load_font(32, bold=True), load_font(32)
        for label, value in page.lines:
            if label == "公告编号":
                continue  # under the title already
            x = box[2] + 40 if fy < box[3] else margin  # beside the photo, then the full width below it
            value_w = width - margin - x - label_w
            # At most four lines each, so that one long text does not crowd out the rest.
            wrapped = _clip(_wrap(draw, value, value_font, value_w), min(4, (facts_bottom - fy) // 46))
            if not wrapped:
                break
            draw.text((x, fy), label, font=label_font, fill=MUTED)
            for line in wrapped:
                draw.text((x + label_w, fy), line, font=value_font, fill=INK)
                fy += 46
            fy += 8
        y = max(box[3], fy) + 40
        for line in description:
            draw.text((margin, y), line, font=text_font, fill=INK)
            y += 52
    # The contact sits at the foot of the page where readers look for it.
    contact_top = CONTACT_TOP
    draw.rectangle((margin, contact_top, width - margin, contact_top + 190), outline=RED, width=4)
    contact_font = load_font(42, bold=True)
    wrapped = [w for line in page.contact for w in _wrap(draw, line, contact_font, width - 2 * margin - 60)]
    cy = contact_top + 35
    for line in wrapped[:2]:
        draw.text((margin + 30, cy), line, font=contact_font, fill=INK)
        cy += 62
    draw.text((width // 2, height - 80), page.footer, font=load_font(24), fill=MUTED, anchor="mm")
    return img


def png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG", dpi=(DPI, DPI))
    return out.getvalue()


def pdf(img: Image.Image, page: NoticePage) -> bytes:
    out = io.BytesIO()
    img.save(out, "PDF", resolution=DPI, title=f"{page.title} {page.notice_no}")
    return out.getvalue()




def shrink_jpeg(data: bytes, side: int) -> bytes:
    """A smaller JPEG copy of a photo, within `side` × `side` pixels."""
    with Image.open(io.BytesIO(data)) as img:
        small = ImageOps.contain(img.convert("RGB"), (side, side))
    out = io.BytesIO()
    small.save(out, "JPEG", quality=85)
    return out.getvalue()
