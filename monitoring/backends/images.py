"""Image preparation shared by every vendor client: decoding and validating what a
camera or a user gave, and turning it into bytes the vendor will accept.

``decode_image`` refuses what is not a usable image (typed ``InvalidImage``).
``prepare_image`` applies EXIF orientation, converts to RGB, downscales, pads an
extreme aspect ratio (right or bottom only, so coordinates stay valid) and re-encodes
until the base64 text fits the vendor's limit; an image that already fits is sent as
it came. ``PreparedImage`` maps coordinates between the frame that was sent and the
original (upright) frame.
"""

from __future__ import annotations

import base64
import io
import math
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from .base import InvalidImage

# Formats we are willing to decode at all; anything else is refused before a decoder runs.
DECODABLE_FORMATS = ("JPEG", "PNG", "BMP", "GIF", "TIFF", "WEBP")

# Decompression-bomb guard, checked on the header before any pixel is decoded:
# 8192 x 8192 is well above any site camera and an 8000 x 6000 photo.
MAX_PIXELS = 8192 * 8192

JPEG_QUALITIES = (90, 85, 78, 70, 60, 50, 40)
PADDING_COLOUR = (0, 0, 0)


@dataclass(frozen=True)
class ImageLimits:
    """What one vendor (or one family of its APIs) accepts for one image.

    ``max_encoded_bytes`` is checked against the longest text any client sends for the
    image: standard base64, then form-urlencoded (``+``, ``/`` and ``=`` become three
    characters). That is never shorter than plain or URL-safe base64, so the limit holds
    whichever alphabet and transport the client uses.
    """

    name: str
    max_encoded_bytes: int
    min_side: int
    max_side: int
    max_width: int | None = None
    max_height: int | None = None
    max_aspect: float | None = None  # longest side / shortest side
    formats: tuple[str, ...] = ("JPEG", "PNG", "BMP")


# Baidu online API, seed `API文档` > `请求限制` (and every API's `请求参数` image row):
# "base64编码和urlencode后大小不超过4M，最短边至少50px，最长边最大4096px，建议长宽比3：1以内",
# "请求格式支持：PNG、JPG、BMP". Error 216202 (`错误码`) repeats "分辨率不高于4096 * 4096".
# "4M" is read as 4,000,000 bytes, the smaller of the two readings.
BAIDU = ImageLimits(
    name="baidu",
    max_encoded_bytes=4_000_000,
    min_side=50,
    max_side=4096,
    max_aspect=3.0,
    formats=("JPEG", "PNG", "BMP"),
)

# CTYun Safety Production, seed `4.3.1 安全帽正确佩戴识别` > `3、接口要求` and `5.4 使用限制`:
# "base64 编码后图片大小不超过 5 MB"; `4.3.3 电子围栏`: the same 5 MB per image (35M per
# request is the client's concern). Formats: helmet also takes gif/tif, fence and the
# others "png、jpg、jpeg、bmp": the common set is used. The seed gives no minimum or
# maximum side: 16 px keeps degenerate slivers out, 4096 px matches Baidu's ceiling.
CTYUN = ImageLimits(
    name="ctyun",
    max_encoded_bytes=5_000_000,
    min_side=16,
    max_side=4096,
    formats=("JPEG", "PNG", "BMP"),
)

# CTYun face quality and action liveness, seed `4.3.4 动作活体识别` > `3、接口要求`:
# "最大输入图片宽度不大于 960px，高度不大于 1280px", "支持 jpg/png/bmp 图片格式".
CTYUN_FACE = ImageLimits(
    name="ctyun_face",
    max_encoded_bytes=5_000_000,
    min_side=16,
    max_side=1280,
    max_width=960,
    max_height=1280,
    formats=("JPEG", "PNG", "BMP"),
)


@dataclass(frozen=True)
class PreparedImage:
    """The bytes to send and how their pixels relate to the original upright frame.

    The sent frame is the original scaled by ``scale`` (then possibly padded on the
    right or bottom), so a point maps by a single factor and padding moves nothing.
    """

    data: bytes
    format: str
    width: int
    height: int
    original_width: int
    original_height: int
    scale: float

    def b64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    def b64_urlsafe(self) -> str:
        return base64.urlsafe_b64encode(self.data).decode("ascii")

    def to_original(self, x: float, y: float) -> tuple[float, float]:
        """A point of the sent frame in the original; padding maps beyond its edges."""
        return (x / self.scale, y / self.scale)

    def to_sent(self, x: float, y: float) -> tuple[float, float]:
        return (x * self.scale, y * self.scale)


@dataclass(frozen=True)
class Layout:
    """Where the original lands in the frame that is sent."""

    scale: float
    content_width: int
    content_height: int
    width: int  # of the sent frame, padding included
    height: int


def encoded_size(data: bytes) -> int:
    """Length of the standard base64 text of ``data`` once form-urlencoded."""
    text = base64.b64encode(data)
    return len(text) + 2 * (text.count(b"+") + text.count(b"/") + text.count(b"="))


def decode_image(data: bytes) -> Image.Image:
    """Decode and fully load an image, or raise ``InvalidImage`` saying why not.

    The image is returned as stored (EXIF orientation not applied, ``format`` set).
    """
    if not data:
        raise InvalidImage("no image: the data is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=DECODABLE_FORMATS)
            width, height = image.size
            if width <= 0 or height <= 0:
                raise InvalidImage(f"empty {image.format} image: {width}x{height} pixels")
            if width * height > MAX_PIXELS:
                raise InvalidImage(
                    f"{image.format} image of {width}x{height} pixels is larger than "
                    f"{MAX_PIXELS} pixels: refused as a possible decompression bomb"
                )
            image.load()
    except InvalidImage:
        raise
    except Image.UnidentifiedImageError:
        raise InvalidImage(
            f"not an image: {len(data)} bytes in no known image format "
            f"(accepted: {', '.join(DECODABLE_FORMATS)}), starting {data[:12]!r}"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InvalidImage(f"refused as a possible decompression bomb: {error}") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as error:
        raise InvalidImage(f"corrupt or truncated image: {error}") from None
    return image


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1) or 1)
    except Exception:  # a broken EXIF block is not worth refusing the picture for
        return 1


def _upright(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:
        return image


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB pixels from any mode: alpha is flattened onto white, CMYK, palette,
    greyscale and 16/32-bit modes are converted."""
    if image.mode == "RGB":
        return image
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if image.mode.startswith("I") or image.mode == "F":
        # 16/32-bit greyscale: rescale to 8 bits rather than clipping at 255.
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(255.0, float(values.max()))
        grey = np.clip(values * (255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    return image.convert("RGB")


def _plain_8bit_rgb(data: bytes, source_format: str) -> bool:
    """A file a vendor decodes as ordinary 8-bit RGB (no 16-bit PNG, no 32-bit BMP)."""
    if source_format == "PNG":
        return data[12:16] == b"IHDR" and data[24] == 8 and data[25] == 2
    if source_format == "BMP":
        return int.from_bytes(data[28:30], "little") == 24
    return source_format == "JPEG"


def _complete(data: bytes, source_format: str) -> bool:
    """The file's own structure says it is whole: JPEG ends with its end-of-image marker,
    PNG with its IEND chunk, BMP is as long as its header says."""
    if source_format == "JPEG":
        return data.rstrip(b"\x00").endswith(b"\xff\xd9")
    if source_format == "PNG":
        return data.endswith(b"IEND\xaeB`\x82")
    if source_format == "BMP":
        return len(data) >= int.from_bytes(data[2:6], "little") > 0
    return False


def _ready_as_is(data: bytes, limits: ImageLimits) -> PreparedImage | None:
    """The original bytes, when reading the header alone shows they already meet every
    limit: a frame that needs no change is not decoded at all (a full decode costs more
    than the whole vendor request on a fast network). Anything doubtful returns None and
    goes through the full decode, which also rejects truncated or corrupt files."""
    if not data:
        return None
    # Every base64 character grows to at most three once urlencoded: when even that
    # bound fits, the exact (and slower) count is not needed.
    base64_length = 4 * ((len(data) + 2) // 3)
    if 3 * base64_length > limits.max_encoded_bytes and (
        encoded_size(data) > limits.max_encoded_bytes
    ):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=DECODABLE_FORMATS)
    except Exception:
        return None
    source_format = image.format or ""
    width, height = image.size
    if (
        source_format in limits.formats
        and image.mode == "RGB"
        and _plain_8bit_rgb(data, source_format)
        and _complete(data, source_format)
        and 0 < width * height <= MAX_PIXELS
        and _orientation(image) == 1
        and not _problems(width, height, limits)
    ):
        return PreparedImage(
            data=data,
            format=source_format,
            width=width,
            height=height,
            original_width=width,
            original_height=height,
            scale=1.0,
        )
    return None


def load_rgb(data: bytes) -> Image.Image:
    """The image as it is meant to be seen: decoded, EXIF orientation applied, RGB.

    Raises ``InvalidImage`` like ``decode_image``.
    """
    image = decode_image(data)
    upright = _upright(image) if _orientation(image) != 1 else image
    try:
        return to_rgb(upright)
    except (OSError, ValueError) as error:
        raise InvalidImage(f"cannot convert a {upright.mode} image to RGB: {error}") from None


def _content_size(width: int, height: int, scale: float) -> tuple[int, int]:
    return (max(1, round(width * scale)), max(1, round(height * scale)))


def _padded(content_w: int, content_h: int, limits: ImageLimits) -> tuple[int, int]:
    if limits.max_aspect is None:
        return content_w, content_h
    if content_w > content_h * limits.max_aspect:
        return content_w, math.ceil(content_w / limits.max_aspect)
    if content_h > content_w * limits.max_aspect:
        return math.ceil(content_h / limits.max_aspect), content_h
    return content_w, content_h


def _problems(width: int, height: int, limits: ImageLimits) -> list[str]:
    problems = []
    if max(width, height) > limits.max_side:
        problems.append(f"longest side {max(width, height)} > {limits.max_side}")
    if min(width, height) < limits.min_side:
        problems.append(f"shortest side {min(width, height)} < {limits.min_side}")
    if limits.max_width is not None and width > limits.max_width:
        problems.append(f"width {width} > {limits.max_width}")
    if limits.max_height is not None and height > limits.max_height:
        problems.append(f"height {height} > {limits.max_height}")
    longest, shortest = max(width, height), min(width, height)
    if limits.max_aspect is not None and longest > shortest * limits.max_aspect:
        problems.append(f"aspect {longest / shortest:.2f} > {limits.max_aspect}")
    return problems


def _layout_at(width: int, height: int, scale: float, limits: ImageLimits) -> Layout:
    content_w, content_h = _content_size(width, height, scale)
    padded_w, padded_h = _padded(content_w, content_h, limits)
    return Layout(scale, content_w, content_h, padded_w, padded_h)


def plan_layout(width: int, height: int, limits: ImageLimits, scale: float = 1.0) -> Layout:
    """The largest frame no bigger than ``scale`` times the original that meets the
    geometric limits (sides, width, height, aspect), upscaling only what is too small.
    Raises ``InvalidImage`` when no such frame exists."""
    if width <= 0 or height <= 0:
        raise InvalidImage(f"empty image: {width}x{height} pixels")
    caps = [scale, limits.max_side / max(width, height)]
    if limits.max_width is not None:
        caps.append(limits.max_width / width)
    if limits.max_height is not None:
        caps.append(limits.max_height / height)
    scale = min(caps)
    layout = _layout_at(width, height, scale, limits)
    # Padding can push the short side past a width or height cap: shrink until it fits.
    for _ in range(8):
        over = 1.0
        if limits.max_width is not None and layout.width > limits.max_width:
            over = max(over, layout.width / limits.max_width)
        if limits.max_height is not None and layout.height > limits.max_height:
            over = max(over, layout.height / limits.max_height)
        if over == 1.0:
            break
        scale = scale / over * 0.999
        layout = _layout_at(width, height, scale, limits)
    # Too small: upscale (never beyond the caps; checked below).
    fitted = layout
    for _ in range(8):
        shortest = min(layout.width, layout.height)
        if shortest >= limits.min_side:
            break
        scale = scale * limits.min_side / shortest
        layout = _layout_at(width, height, scale, limits)
        if min(layout.width, layout.height) < limits.min_side:
            scale *= 1.0001
            layout = _layout_at(width, height, scale, limits)
    problems = _problems(layout.width, layout.height, limits)
    if problems:
        upscaled = "" if layout is fitted else f", upscaled to {layout.width}x{layout.height}"
        raise InvalidImage(
            f"a {width}x{height} image cannot be made to fit {limits.name}'s limits: "
            f"fitted to {fitted.width}x{fitted.height}{upscaled}, {'; '.join(problems)}"
        )
    return layout


def _render(image: Image.Image, layout: Layout) -> Image.Image:
    size = (layout.content_width, layout.content_height)
    content = image if image.size == size else image.resize(size, Image.Resampling.LANCZOS)
    if (layout.width, layout.height) == size:
        return content
    canvas = Image.new("RGB", (layout.width, layout.height), PADDING_COLOUR)
    canvas.paste(content, (0, 0))
    return canvas


def _encode_jpeg(image: Image.Image, limits: ImageLimits) -> tuple[bytes | None, int]:
    """The best quality that fits, or None and the size at the lowest quality."""
    size = 0
    for quality in JPEG_QUALITIES:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality, optimize=True)
        data = buffer.getvalue()
        size = encoded_size(data)
        if size <= limits.max_encoded_bytes:
            return data, size
    return None, size


def prepare_image(data: bytes, limits: ImageLimits) -> PreparedImage:
    """Bytes that ``limits`` accept, showing the same scene as ``data``.

    Raises ``InvalidImage`` when ``data`` is not an image or cannot be made to fit.
    """
    if "JPEG" not in limits.formats:
        raise ValueError(f"{limits.name}: re-encoding needs JPEG among the formats")
    ready = _ready_as_is(data, limits)
    if ready is not None:
        return ready
    image = decode_image(data)
    source_format = image.format or ""
    orientation = _orientation(image)
    upright = _upright(image) if orientation != 1 else image
    original_w, original_h = upright.size

    if (
        source_format in limits.formats
        and image.mode == "RGB"
        and _plain_8bit_rgb(data, source_format)
        and orientation == 1
        and not _problems(original_w, original_h, limits)
        and encoded_size(data) <= limits.max_encoded_bytes
    ):
        return PreparedImage(
            data=data,
            format=source_format,
            width=original_w,
            height=original_h,
            original_width=original_w,
            original_height=original_h,
            scale=1.0,
        )

    try:
        rgb = to_rgb(upright)
    except (OSError, ValueError) as error:
        raise InvalidImage(f"cannot convert a {upright.mode} image to RGB: {error}") from None
    layout = plan_layout(original_w, original_h, limits)
    for _ in range(12):
        encoded, size = _encode_jpeg(_render(rgb, layout), limits)
        if encoded is not None:
            return PreparedImage(
                data=encoded,
                format="JPEG",
                width=layout.width,
                height=layout.height,
                original_width=original_w,
                original_height=original_h,
                scale=layout.scale,
            )
        # Encoded size goes roughly with the pixel count.
        shrink = min(0.9, math.sqrt(limits.max_encoded_bytes / size) * 0.95)
        smaller = plan_layout(original_w, original_h, limits, scale=layout.scale * shrink)
        if smaller.scale >= layout.scale:  # held up by the minimum side: cannot shrink
            break
        layout = smaller
    raise InvalidImage(
        f"a {original_w}x{original_h} image cannot be encoded within "
        f"{limits.max_encoded_bytes} bytes of base64 for {limits.name}"
    )
