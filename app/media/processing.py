"""Image processing: bytes from a reporter → clean, resized renditions (Pillow).

Contract of :func:`process_image`:

- the type comes from the bytes (Pillow's decoders for JPEG, PNG, GIF and WebP only), never
  from a file name or a Content-Type; anything else — SVG, PDF, text — is
  :class:`UnsupportedImage`;
- the pixel count is checked from the header, before anything is decoded
  (:class:`ImageTooLarge`), so a decompression bomb costs no memory;
- every rendition is decoded and re-encoded: the upload itself is never kept. EXIF (GPS
  included), XMP, IPTC, ICC profiles and text chunks are dropped; EXIF orientation is
  applied to the pixels first;
- widths: each of :data:`WIDTHS` smaller than the image, plus the image's own width (capped
  at the largest), each as WebP and as a fallback — JPEG for opaque images, PNG for images
  with transparency, GIF for animations (animations stay animated).

Pure and CPU-bound: callers run it in a worker thread.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

#: Rendition widths for ``srcset`` (an image narrower than one is not upscaled).
WIDTHS = (320, 640, 1024, 1600)
ACCEPTED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
#: Animations longer than this are cut (bounded work per upload).
MAX_FRAMES = 200
JPEG_QUALITY = 82
WEBP_QUALITY = 80


class ImageRejected(Exception):
    """Base: the upload cannot be published; ``str()`` is a message for the reporter."""


class UnsupportedImage(ImageRejected):
    """Not a JPEG, PNG, GIF or WebP image (415)."""


class ImageTooLarge(ImageRejected):
    """More pixels than allowed (413)."""


class BrokenImage(ImageRejected):
    """A supported type whose data does not decode (422)."""


@dataclass(frozen=True, slots=True)
class Rendition:
    data: bytes
    width: int
    height: int
    content_type: str
    extension: str


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    #: The largest fallback rendition's size (after orientation).
    width: int
    height: int
    #: Content type of the fallback renditions (image/jpeg, image/png or image/gif).
    content_type: str
    animated: bool
    #: Smallest first; WebP and fallback of each width.
    renditions: list[Rendition]

    @property
    def main(self) -> Rendition:
        """The largest fallback rendition: the ``src`` of an ``<img>``."""
        return [r for r in self.renditions if r.content_type == self.content_type][-1]


def _open(data: bytes, max_pixels: int) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except UnidentifiedImageError:
        raise UnsupportedImage(
            "not a supported image: upload a JPEG, PNG, GIF or WebP file"
        ) from None
    except Image.DecompressionBombError as exc:
        # Pillow's own guard (Image.MAX_IMAGE_PIXELS) as a second net behind ours below.
        raise ImageTooLarge(str(exc)) from None
    width, height = image.size
    frames = min(int(getattr(image, "n_frames", 1)), MAX_FRAMES)
    # Animations: every kept frame is decoded and resized, so they count too (up to 4×).
    if width * height > max_pixels or width * height * frames > max_pixels * 4:
        raise ImageTooLarge(
            f"image is {width}×{height} pixels"
            + (f" × {frames} frames" if frames > 1 else "")
            + f"; the limit is {max_pixels} pixels (LIVEFEED_MAX_IMAGE_PIXELS)"
        )
    return image


def _decode_smaller(image: Image.Image) -> None:
    """JPEG only: let libjpeg decode at 1/2, 1/4 or 1/8 scale when even the largest
    rendition is that much smaller (a 12 MP photo decodes ~4× faster); the result is then
    resized down with Lanczos as usual."""
    if image.format != "JPEG":
        return
    width, height = image.size
    swapped = image.getexif().get(0x0112) in (5, 6, 7, 8)  # orientation: shown rotated
    shown_width = height if swapped else width
    if shown_width <= WIDTHS[-1] * 2:
        return
    scale = shown_width / WIDTHS[-1]
    image.draft(image.mode, (math.ceil(width / scale), math.ceil(height / scale)))


def _target_widths(width: int) -> list[int]:
    largest = min(width, WIDTHS[-1])
    return [w for w in WIDTHS if w < largest] + [largest]


def _resize(image: Image.Image, width: int) -> Image.Image:
    if width == image.width:
        return image
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)


def _clean(image: Image.Image) -> Image.Image:
    """Pixels only: drop every metadata block Pillow would otherwise write back."""
    image.info = {}
    return image


def _encode_still(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "WEBP":
        image.save(out, "WEBP", quality=WEBP_QUALITY, method=4)
    elif fmt == "JPEG":
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    else:
        image.save(out, "PNG", optimize=False, compress_level=6)
    return out.getvalue()


def _process_still(image: Image.Image) -> ProcessedImage:
    image = ImageOps.exif_transpose(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    image = _clean(image.convert("RGBA" if has_alpha else "RGB"))
    fallback = ("PNG", "image/png", "png") if has_alpha else ("JPEG", "image/jpeg", "jpg")
    renditions: list[Rendition] = []
    for width in _target_widths(image.width):
        scaled = _clean(_resize(image, width))
        renditions.append(
            Rendition(_encode_still(scaled, "WEBP"), width, scaled.height, "image/webp", "webp")
        )
        renditions.append(
            Rendition(_encode_still(scaled, fallback[0]), width, scaled.height, *fallback[1:])
        )
    main = renditions[-1]
    return ProcessedImage(main.width, main.height, fallback[1], False, renditions)


def _process_animation(image: Image.Image) -> ProcessedImage:
    frames: list[Image.Image] = []
    durations: list[int] = []
    for index, frame in enumerate(ImageSequence.Iterator(image)):
        if index >= MAX_FRAMES:
            break
        durations.append(int(frame.info.get("duration", 100)) or 100)
        frames.append(_clean(frame.convert("RGBA")))
    renditions: list[Rendition] = []
    for width in _target_widths(frames[0].width):
        scaled = [_clean(_resize(frame, width)) for frame in frames]
        first, rest = scaled[0], scaled[1:]
        webp = io.BytesIO()
        first.save(
            webp,
            "WEBP",
            save_all=True,
            append_images=rest,
            duration=durations,
            loop=0,
            quality=WEBP_QUALITY,
        )
        gif = io.BytesIO()
        first.save(
            gif, "GIF", save_all=True, append_images=rest, duration=durations, loop=0, disposal=2
        )
        renditions.append(Rendition(webp.getvalue(), width, first.height, "image/webp", "webp"))
        renditions.append(Rendition(gif.getvalue(), width, first.height, "image/gif", "gif"))
    main = renditions[-1]
    return ProcessedImage(main.width, main.height, "image/gif", True, renditions)


def process_image(data: bytes, *, max_pixels: int) -> ProcessedImage:
    """Decode ``data`` and return its clean renditions (see the module docstring).

    Raises :class:`UnsupportedImage`, :class:`ImageTooLarge` or :class:`BrokenImage`.
    """
    try:
        image = _open(data, max_pixels)
        with image:
            if getattr(image, "is_animated", False):
                return _process_animation(image)
            _decode_smaller(image)
            image.load()
            return _process_still(image)
    except ImageRejected:
        raise
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise BrokenImage(f"the image data is damaged: {exc}") from None
