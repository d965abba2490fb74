"""The font of every text the product draws into an image (evidence overlays, the
sandbox's rendered answers): Noto Sans SC, which has the Latin and the Simplified Chinese
glyphs a site's region, rule and camera names use.

The font file comes from the PyPI package ``pylopdf-fonts-zh-cn`` (Noto Sans SC Regular,
SIL Open Font License 1.1), pinned in ``requirements.txt``, so ``make run`` installs it
without root. Should it be missing, Pillow's own font is used and a warning is logged:
Chinese then draws as boxes.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PIL import ImageFont

logger = logging.getLogger(__name__)


def font_path() -> Path | None:
    """The CJK font file, or None when its package is not installed."""
    try:
        from pylopdf_fonts_zh_cn import sans_path
    except ImportError:
        return None
    path = Path(sans_path())
    return path if path.is_file() else None


_per_thread = threading.local()


def drawing_font(size: int):
    """The font to draw text of ``size`` pixels with: one object per size and thread
    (a FreeType face is not to be shared between threads), reused."""
    fonts = getattr(_per_thread, "fonts", None)
    if fonts is None:
        fonts = _per_thread.fonts = {}
    if size not in fonts:
        fonts[size] = _load(size)
    return fonts[size]


def _load(size: int):
    path = font_path()
    if path is not None:
        return ImageFont.truetype(str(path), size)
    logger.warning("no CJK font installed (pylopdf-fonts-zh-cn): Chinese text draws as boxes")
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()
