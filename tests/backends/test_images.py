"""Image preparation for the vendors (monitoring/backends/images.py)."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from monitoring.backends.base import InvalidImage
from monitoring.backends.images import (
    BAIDU,
    CTYUN,
    CTYUN_FACE,
    ImageLimits,
    PreparedImage,
    decode_image,
    encoded_size,
    load_rgb,
    plan_layout,
    prepare_image,
)

PPE_IMAGES = Path(__file__).resolve().parents[3] / "shared" / "data" / "ppe-sample" / "images"
ALL_LIMITS = [BAIDU, CTYUN, CTYUN_FACE]


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def gradient(width: int, height: int) -> Image.Image:
    xs = np.linspace(0, 255, width, dtype=np.float32)
    ys = np.linspace(0, 255, height, dtype=np.float32)
    red = np.broadcast_to(xs, (height, width))
    green = np.broadcast_to(ys[:, None], (height, width))
    blue = np.full((height, width), 128, dtype=np.float32)
    return Image.fromarray(np.stack([red, green, blue], axis=2).astype(np.uint8))


def decoded(prepared: PreparedImage) -> Image.Image:
    image = Image.open(io.BytesIO(prepared.data))
    image.load()
    return image


def assert_fits(prepared: PreparedImage, limits: ImageLimits) -> None:
    image = decoded(prepared)
    width, height = image.size
    assert (width, height) == (prepared.width, prepared.height)
    assert image.format == prepared.format
    assert image.format in limits.formats
    assert encoded_size(prepared.data) <= limits.max_encoded_bytes
    assert len(prepared.b64()) <= limits.max_encoded_bytes
    assert limits.min_side <= min(width, height)
    assert max(width, height) <= limits.max_side
    if limits.max_width is not None:
        assert width <= limits.max_width
    if limits.max_height is not None:
        assert height <= limits.max_height
    if limits.max_aspect is not None:
        assert max(width, height) <= limits.max_aspect * min(width, height)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG claiming the given size, with a few bytes of pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------- the vendors' limits


def test_the_vendor_limits_are_the_ones_the_seeds_state():
    # Baidu `请求限制`: 4M after base64 + urlencode, 50..4096 px, 3:1, PNG/JPG/BMP
    assert (BAIDU.max_encoded_bytes, BAIDU.min_side, BAIDU.max_side) == (4_000_000, 50, 4096)
    assert BAIDU.max_aspect == 3.0
    assert set(BAIDU.formats) == {"JPEG", "PNG", "BMP"}
    # CTYun `5.4 使用限制`: 5 MB of base64 per image
    assert CTYUN.max_encoded_bytes == 5_000_000
    # CTYun face APIs `4.3.4 动作活体识别`: at most 960 wide and 1280 tall
    assert (CTYUN_FACE.max_width, CTYUN_FACE.max_height) == (960, 1280)


def test_the_size_counted_is_the_urlencoded_base64_text():
    # Given bytes whose base64 is made only of "+" and "/" (each urlencoded to 3 characters)
    data = bytes([0xFB, 0xEF, 0xBE]) * 10 + bytes([0xFF]) * 3
    text = base64.b64encode(data).decode()
    assert set(text) <= {"+", "/", "7", "v"}
    # Then the size counted is that of the urlencoded text
    from urllib.parse import quote_plus

    assert encoded_size(data) == len(quote_plus(text))


# ---------------------------------------------------------------- what is refused


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"Camera 7 offline\n", "not an image"),
        (b"<html><body>502 Bad Gateway</body></html>", "not an image"),
    ],
)
def test_bytes_that_are_not_an_image_are_refused_with_a_clear_message(data, reason):
    with pytest.raises(InvalidImage, match=reason):
        prepare_image(data, BAIDU)


def test_a_truncated_jpeg_is_refused_as_corrupt_or_truncated():
    # Given a real JPEG cut in half (a camera connection dropped mid-transfer)
    whole = encode(gradient(640, 480), "JPEG", quality=90)
    # Then decoding it is refused
    with pytest.raises(InvalidImage, match="truncated"):
        decode_image(whole[: len(whole) // 2])


def test_a_jpeg_with_garbage_in_its_header_is_refused():
    whole = bytearray(encode(gradient(64, 64), "JPEG"))
    whole[2:40] = b"\x00" * 38
    with pytest.raises(InvalidImage):
        prepare_image(bytes(whole), CTYUN)


@pytest.mark.parametrize("side", [9_000, 100_000])
def test_a_png_claiming_a_gigantic_size_is_refused_as_a_decompression_bomb(side):
    # Given a few hundred bytes claiming 81 million or 10 billion pixels
    with pytest.raises(InvalidImage, match="decompression bomb"):
        decode_image(png_claiming(side, side))


def test_a_png_claiming_zero_width_is_refused():
    with pytest.raises(InvalidImage):
        decode_image(png_claiming(0, 10))


def test_an_image_too_thin_to_reach_the_minimum_side_within_the_maximum_is_refused():
    # Given an 8000x3 strip: CTYun has no aspect rule to pad by, and bringing the short
    # side to 16 px would make the long side far more than 4096 px
    strip = encode(Image.new("RGB", (8000, 3), "grey"), "PNG")
    with pytest.raises(InvalidImage, match="cannot be made to fit"):
        prepare_image(strip, CTYUN)


# ---------------------------------------------------------------- what is sent unchanged


def test_a_jpeg_already_within_the_limits_is_sent_byte_for_byte():
    original = encode(gradient(640, 480), "JPEG", quality=85)
    prepared = prepare_image(original, BAIDU)
    assert prepared.data == original
    assert (prepared.width, prepared.height, prepared.scale) == (640, 480, 1.0)


def test_a_24_bit_bmp_within_the_limits_is_sent_as_bmp():
    original = encode(gradient(200, 150), "BMP")
    prepared = prepare_image(original, BAIDU)
    assert prepared.data == original
    assert prepared.format == "BMP"


def test_a_format_the_vendor_does_not_take_is_converted_to_jpeg():
    # Given a WebP frame (decodable, but not among Baidu's PNG/JPG/BMP)
    prepared = prepare_image(encode(gradient(320, 240), "WEBP"), BAIDU)
    assert prepared.format == "JPEG"
    assert_fits(prepared, BAIDU)


# ---------------------------------------------------------------- conversions


def test_a_cmyk_jpeg_is_converted_to_an_rgb_jpeg_keeping_its_colours():
    # Given a CMYK JPEG of pure red ink (M and Y full)
    cmyk = Image.new("CMYK", (120, 80), (0, 255, 255, 0))
    prepared = prepare_image(encode(cmyk, "JPEG", quality=95), BAIDU)
    # Then the vendor gets an RGB JPEG that is still red
    image = decoded(prepared)
    assert image.mode == "RGB"
    red, green, blue = image.getpixel((60, 40))
    assert red > 200 and green < 60 and blue < 60


def test_a_png_with_transparency_is_flattened_onto_white():
    # Given a PNG, transparent on the left half and opaque blue on the right
    rgba = Image.new("RGBA", (200, 100), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (100, 0, 200, 100))
    prepared = prepare_image(encode(rgba, "PNG"), BAIDU)
    image = decoded(prepared)
    # Then the transparent part is white and the opaque part keeps its colour
    assert image.mode == "RGB"
    assert min(image.getpixel((40, 50))) > 240
    red, green, blue = image.getpixel((160, 50))
    assert blue > 200 and red < 40 and green < 40


def test_a_palette_gif_is_converted_to_a_format_baidu_accepts():
    # Given a palette GIF (Baidu takes only JPG/PNG/BMP)
    palette = Image.new("RGB", (150, 100), (0, 200, 0)).convert("P", palette=Image.ADAPTIVE)
    prepared = prepare_image(encode(palette, "GIF"), BAIDU)
    image = decoded(prepared)
    assert prepared.format == "JPEG"
    assert image.mode == "RGB"
    red, green, blue = image.getpixel((75, 50))
    assert green > 170 and red < 40 and blue < 40


def test_a_16_bit_greyscale_png_keeps_its_brightness_in_8_bits():
    # Given a 16-bit PNG at half brightness (32768 of 65535)
    values = np.full((80, 120), 32768, dtype=np.uint16)
    prepared = prepare_image(encode(Image.fromarray(values), "PNG"), BAIDU)
    red, green, blue = decoded(prepared).convert("RGB").getpixel((60, 40))
    assert 118 <= red <= 138 and red == green == blue


def test_an_exif_rotated_photo_is_sent_upright_with_upright_dimensions():
    # Given a 200x100 stored picture, red in its top-left corner, whose EXIF says
    # "rotate 90 degrees clockwise to display" (orientation 6)
    stored = Image.new("RGB", (200, 100), (255, 255, 255))
    stored.paste((255, 0, 0), (0, 0, 40, 40))
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(stored, "JPEG", quality=95, exif=exif.tobytes())
    # When prepared
    prepared = prepare_image(data, BAIDU)
    image = decoded(prepared)
    # Then the vendor gets the picture as a person sees it: 100x200, red top-right
    assert (prepared.width, prepared.height) == (100, 200)
    assert (prepared.original_width, prepared.original_height) == (100, 200)
    assert image.getpixel((90, 10))[1] < 60
    assert image.getpixel((10, 10))[1] > 200
    assert image.getexif().get(0x0112, 1) == 1
    assert load_rgb(data).size == (100, 200)


# ---------------------------------------------------------------- resizing


def test_a_huge_photo_is_downscaled_to_the_longest_side_keeping_its_aspect():
    # Given an 8000x6000 photo
    prepared = prepare_image(encode(gradient(8000, 6000), "JPEG", quality=80), BAIDU)
    # Then Baidu gets 4096x3072, and coordinates map back by the same factor
    assert (prepared.width, prepared.height) == (4096, 3072)
    assert prepared.scale == pytest.approx(4096 / 8000)
    assert prepared.to_original(4096, 3072) == pytest.approx((8000, 6000))
    assert_fits(prepared, BAIDU)


def test_a_landscape_frame_for_the_face_apis_fits_960_wide():
    prepared = prepare_image(encode(gradient(1920, 1080), "JPEG"), CTYUN_FACE)
    assert (prepared.width, prepared.height) == (960, 540)
    assert_fits(prepared, CTYUN_FACE)


def test_a_picture_too_detailed_to_fit_is_reencoded_and_shrunk_until_its_base64_fits():
    # Given 2500x2000 pixels of noise as PNG (about 15 MB, JPEG cannot squeeze it at full size)
    noise = np.random.default_rng(7).integers(0, 256, (2000, 2500, 3), dtype=np.uint8)
    small_limit = ImageLimits(name="tight", max_encoded_bytes=1_000_000, min_side=50, max_side=4096)
    prepared = prepare_image(encode(Image.fromarray(noise), "PNG"), small_limit)
    # Then what is sent fits, as a JPEG, smaller but the same shape
    assert prepared.format == "JPEG"
    assert prepared.width < 2500
    assert prepared.width / prepared.height == pytest.approx(2500 / 2000, rel=0.01)
    assert_fits(prepared, small_limit)


def test_a_wide_strip_is_padded_at_the_bottom_to_baidus_3_to_1():
    # Given a 4000x300 panorama, red
    prepared = prepare_image(encode(Image.new("RGB", (4000, 300), (255, 0, 0)), "PNG"), BAIDU)
    image = decoded(prepared).convert("RGB")
    # Then it is padded below (not above) to 3:1, and nothing moved
    assert (prepared.width, prepared.height) == (4000, 1334)
    assert prepared.scale == 1.0
    assert prepared.to_original(123, 45) == (123, 45)
    assert image.getpixel((2000, 150))[0] > 200  # the picture, where it was
    assert max(image.getpixel((2000, 1000))) < 30  # padding below it
    assert_fits(prepared, BAIDU)


def test_a_tall_strip_is_padded_on_the_right():
    prepared = prepare_image(encode(Image.new("RGB", (300, 4000), (0, 0, 255)), "PNG"), BAIDU)
    image = decoded(prepared).convert("RGB")
    assert (prepared.width, prepared.height) == (1334, 4000)
    assert image.getpixel((150, 2000))[2] > 200
    assert max(image.getpixel((1000, 2000))) < 30


def test_a_tiny_image_is_upscaled_to_the_minimum_side():
    # Given a 10x10 thumbnail
    prepared = prepare_image(encode(Image.new("RGB", (10, 10), "white"), "PNG"), BAIDU)
    # Then Baidu gets 50x50 and coordinates map back to the thumbnail
    assert (prepared.width, prepared.height) == (50, 50)
    assert prepared.scale == pytest.approx(5.0)
    assert prepared.to_original(50, 50) == pytest.approx((10, 10))
    assert_fits(prepared, BAIDU)


def test_both_base64_alphabets_decode_to_the_bytes_sent():
    prepared = prepare_image(encode(gradient(300, 200), "PNG"), CTYUN)
    assert base64.b64decode(prepared.b64()) == prepared.data
    assert base64.urlsafe_b64decode(prepared.b64_urlsafe()) == prepared.data
    assert "+" not in prepared.b64_urlsafe() and "/" not in prepared.b64_urlsafe()
    assert not prepared.b64().startswith("data:")


@given(
    st.floats(min_value=0.01, max_value=50),
    st.floats(min_value=0, max_value=10_000),
    st.floats(min_value=0, max_value=10_000),
)
def test_to_sent_and_to_original_undo_each_other(scale, x, y):
    prepared = PreparedImage(b"", "JPEG", 1, 1, 1, 1, scale)
    assert prepared.to_original(*prepared.to_sent(x, y)) == pytest.approx((x, y))


@given(
    st.integers(min_value=1, max_value=20_000),
    st.integers(min_value=1, max_value=20_000),
    st.sampled_from(ALL_LIMITS),
)
def test_every_planned_frame_meets_every_geometric_limit_or_is_refused(width, height, limits):
    try:
        layout = plan_layout(width, height, limits)
    except InvalidImage:
        return
    assert limits.min_side <= min(layout.width, layout.height)
    assert max(layout.width, layout.height) <= limits.max_side
    assert limits.max_width is None or layout.width <= limits.max_width
    assert limits.max_height is None or layout.height <= limits.max_height
    if limits.max_aspect is not None:
        assert max(layout.width, layout.height) <= limits.max_aspect * min(
            layout.width, layout.height
        )
    # the picture sits inside the frame, scaled by one factor
    assert layout.content_width <= layout.width and layout.content_height <= layout.height
    assert abs(layout.content_width - width * layout.scale) <= 1
    assert abs(layout.content_height - height * layout.scale) <= 1


# ---------------------------------------------------------------- real site photos


def ppe_photos() -> list[Path]:
    photos = sorted(PPE_IMAGES.glob("*.jpg"))
    if not photos:
        pytest.skip(f"no ppe-sample photos at {PPE_IMAGES}")
    return photos


@pytest.mark.parametrize("limits", ALL_LIMITS, ids=lambda limits: limits.name)
def test_every_real_site_photo_is_prepared_within_the_limits(limits):
    photos = ppe_photos()
    assert len(photos) == 40
    for path in photos:
        prepared = prepare_image(path.read_bytes(), limits)
        assert_fits(prepared, limits)
        with Image.open(path) as original:
            assert (prepared.original_width, prepared.original_height) == original.size


def test_real_photos_that_already_fit_baidu_are_sent_untouched():
    # Given the photos that meet Baidu's rules as they are (checked here independently)
    for path in ppe_photos():
        data = path.read_bytes()
        with Image.open(path) as image:
            width, height = image.size
            fits = (
                image.format == "JPEG"
                and image.mode == "RGB"
                and image.getexif().get(0x0112, 1) == 1
                and min(width, height) >= 50
                and max(width, height) <= 4096
                and max(width, height) <= 3 * min(width, height)
                and encoded_size(data) <= 4_000_000
            )
        # Then those are not re-encoded
        if fits:
            assert prepare_image(data, BAIDU).data == data, path.name
