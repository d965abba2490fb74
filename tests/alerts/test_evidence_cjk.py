"""Chinese names in evidence pictures draw as glyphs, not as boxes: a font without CJK
glyphs draws the same box ("tofu") for every Chinese character, so two different names
of equal length would render identically."""

from __future__ import annotations

import io

from PIL import Image, ImageChops, ImageDraw

from alerts.evidence import OverlayRegion, render_overlay
from monitoring.lib.fonts import drawing_font, font_path


def glyph_mask(character: str) -> Image.Image:
    font = drawing_font(40)
    canvas = Image.new("L", (60, 60), 0)
    ImageDraw.Draw(canvas).text((5, 5), character, fill=255, font=font)
    return canvas


def ink(picture: Image.Image) -> int:
    return sum(1 for value in picture.getdata() if value > 128)


def test_the_drawing_font_is_the_installed_cjk_font():
    path = font_path()
    assert path is not None and path.name == "NotoSansSC-Regular.otf"


def test_two_different_chinese_characters_draw_two_different_glyphs():
    fence, zone = glyph_mask("禁"), glyph_mask("区")
    assert ink(fence) > 50 and ink(zone) > 50
    assert ImageChops.difference(fence, zone).getbbox() is not None


def test_every_character_of_the_demo_names_has_its_own_glyph():
    name = "禁入区脚手架工地大门人员聚集"
    masks = {glyph_mask(character).tobytes() for character in name}
    assert len(masks) == len(set(name))


def test_an_evidence_picture_draws_a_chinese_region_name_readably():
    frame = Image.new("RGB", (640, 480), (90, 90, 90))
    region = [[100, 100], [500, 100], [500, 400], [100, 400]]

    def rendered(name: str) -> Image.Image:
        data = render_overlay(
            frame, regions=[OverlayRegion(region, "fence", name)], caption=f"禁止进入 · {name}"
        )
        return Image.open(io.BytesIO(data)).convert("L")

    first, second = rendered("禁入区"), rendered("脚手架")
    # Same length, same place: only glyphs (not tofu boxes) make the two pictures differ.
    assert ImageChops.difference(first, second).getbbox() is not None
