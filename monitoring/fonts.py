"""The font of every text the product draws into an image (evidence overlays, the
sandbox's rendered answers): Noto Sans SC, which has the Latin and the Simplified Chinese
glyphs a site's region, rule and camera names use.

The font file comes from the PyPI package ``pylopdf-fonts-zh-cn`` (Noto Sans SC Regular,
SIL Open Font License 1.1), pinned in ``requirements.txt``, so ``make run`` installs it
without root. Should it be missing, Pillow's own font is used and a warning is logged:
Chinese then draws as boxes.
"""

from __future__ import annotations

import functools
import logging
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


@functools.lru_cache(maxsize=32)
def drawing_font(size: int):
    """The font to draw text of ``size`` pixels with (one object per size, reused)."""
    path = font_path()
    if path is not None:
        return ImageFont.truetype(str(path), size)
    logger.warning("no CJK font installed (pylopdf-fonts-zh-cn): Chinese text draws as boxes")
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()
