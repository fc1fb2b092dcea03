"""Reading one image file safely into 8-bit RGB, and the project's square preprocessing.

Rules applied by ``open_rgb`` (every image in tlcore goes through them):

- The declared size is checked before any pixel is decoded, and the limit is on the pixels
  actually decoded: a JPEG of up to ``MAX_REDUCED_PIXELS`` (200 megapixels, the largest phone
  photos) is decoded at 1/2, 1/4 or 1/8 scale until it fits ``max_pixels`` (default 40
  megapixels); any other format over ``max_pixels`` is refused as "too large", and so is
  anything Pillow itself flags as a decompression bomb.
- An image more than ``MAX_ASPECT`` times longer than wide is refused: resizing its short side
  to the model's size would make the long side enormous.
- HEIC/HEIF photos (iPhones) are read with the pillow-heif plugin.
- A file Pillow cannot identify "is not an image file"; one whose pixels fail to decode
  (truncated, corrupt) "is damaged or incomplete and could not be read"; one whose text or
  colour profile unpacks past Pillow's guard (``PngImagePlugin.MAX_TEXT_CHUNK``, 1 MB) is refused
  with that reason, before or after its pixels.
- Only the first frame of an animated image is used.
- With ``draft_size`` (thumbnails, checks), JPEGs are decoded at a reduced scale (1/2, 1/4 or
  1/8) that keeps the shorter side at least ``draft_size``. The model's input never is: a browser
  (the web demo) can only decode a JPEG whole, and libjpeg's reduced decoding differs from a whole
  decode resized, by up to 0.03 in a class's probability.
- The EXIF orientation is applied, so a portrait photo comes out portrait.
- Colour: any transparency (RGBA, LA, PA, a palette or grey image with a transparent
  colour) is composited on white; "I;16*" is divided by 256; "I" with values over 255
  and "F" are scaled by their maximum; "CMYK", "L", "1" and others convert with Pillow.

``load_square_uint8`` is the one preprocessing contract shared by training, prediction
and export: shorter side resized to ``size`` (Pillow's bilinear filter), then centre-cropped
to ``size``×``size``, as a uint8 tensor [3, size, size].

The Pillow steps themselves live in ``tlcore.data.portable``, which the model card hands out as the
standalone script for the ONNX export: one copy of them, so the card cannot drift from the engine.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

import numpy as np
import pillow_heif
import torch
from PIL import ExifTags, Image, PngImagePlugin, UnidentifiedImageError

from tlcore.data import portable
from tlcore.data.portable import MAX_PIXELS

pillow_heif.register_heif_opener()

MAX_REDUCED_PIXELS = 200_000_000
MAX_ASPECT = 20
# Pillow refuses images over twice this before our own check could decode them reduced.
if Image.MAX_IMAGE_PIXELS is not None:
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS, MAX_REDUCED_PIXELS)
PROGRESS_EVERY_S = 0.5
# Why an image was not used: each completes a sentence that starts with the file's name.
DAMAGED = "is damaged or incomplete and could not be read"
NOT_AN_IMAGE = "is not an image file"
THIN = ("is {w}×{h} pixels, too long and thin to use; crop it so the long side is at most {ratio} times the short "
        "side")
TOO_LARGE = "is too large ({w}×{h} pixels; the limit is {megapixels:g} megapixels)"
JPEG_TOO_LARGE = "is too large ({w}×{h} pixels; the limit is {megapixels:g} megapixels for JPEG photos)"
TOO_LARGE_TO_OPEN = "is too large (the limit is {megapixels:g} megapixels)"
COLOURS = "uses a colour format ({colours}) that cannot be converted to RGB"
HIDDEN_DATA = ("holds more than {mb} MB of hidden text or colour-profile data, far more than a picture needs, so it "
               "was not read; save a copy of it without that data")
# EXIF orientations 5-8 include a quarter turn, so width and height swap.
_QUARTER_TURNS = {5, 6, 7, 8}

Source = str | os.PathLike | bytes
T = TypeVar("T")
Progress = Callable[[int, int], None]


class ImageProblem(Exception):
    """One file that cannot be used; ``reason`` completes a sentence that starts with its name."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def open_rgb(
    path_or_bytes: Source, max_pixels: int = MAX_PIXELS, draft_size: int | None = None
) -> Image.Image:
    """Decode an image file (path or bytes) into an 8-bit RGB image, following the module rules."""
    return _decode(path_or_bytes, max_pixels, draft_size)[0]


def check_image(path_or_bytes: Source, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """Prove a file is usable and return its oriented (width, height): a PNG by the checksums of
    all its chunks, without decoding its pixels (half a dataset scan's time on PNG folders); a
    JPEG by decoding it at 1/8 scale; anything else, or a PNG that fails that check or a limit,
    by decoding it, which also says what is wrong."""
    return _checked_png(path_or_bytes, max_pixels) or _decode(path_or_bytes, max_pixels, draft_size=1)[1]


def _checked_png(source: Source, max_pixels: int) -> tuple[int, int] | None:
    """A PNG's oriented size when every chunk's checksum holds and it is within the limits, else None."""
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as img:
            w, h = img.size
            if img.format != "PNG" or w * h > max_pixels or max(w, h) > MAX_ASPECT * min(w, h):
                return None
            # An orientation stored before the pixels is read now; one after them is rare and left out.
            quarter = "exif" in img.info and img.getexif().get(ExifTags.Base.Orientation) in _QUARTER_TURNS
            img.verify()
    except Exception:  # whatever it is, the full decode names it
        return None
    return (h, w) if quarter else (w, h)


def load_square_uint8(path: Source, size: int, max_pixels: int = MAX_PIXELS) -> torch.Tensor:
    """The project's preprocessing contract: shorter side to ``size`` (Pillow bilinear), then a
    centre crop to ``size``×``size``; uint8 [3, size, size]."""
    square = portable.square(open_rgb(path, max_pixels), size)
    return torch.from_numpy(np.array(square)).permute(2, 0, 1).contiguous()


def decode_many(
    paths: Sequence[Source],
    size: int,
    workers: int | None = None,
    progress: Progress | None = None,
) -> tuple[torch.Tensor, list[int]]:
    """``load_square_uint8`` over many files in parallel: uint8 [N,3,size,size] of the readable ones,
    in order, and the indices of those that failed."""
    out = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)

    def fill(i: int) -> None:
        out[i].copy_(load_square_uint8(paths[i], size))

    results = run_parallel(fill, range(len(paths)), workers, progress)
    failed = [i for i, r in enumerate(results) if isinstance(r, ImageProblem)]
    if not failed:
        return out, failed
    # Compact in place rather than indexing, so a failure never doubles peak memory.
    kept = [i for i, r in enumerate(results) if not isinstance(r, ImageProblem)]
    for j, i in enumerate(kept):
        if i != j:
            out[j].copy_(out[i])
    return out[: len(kept)], failed


def run_parallel(
    fn: Callable[[T], object],
    args: Sequence[T],
    workers: int | None = None,
    progress: Progress | None = None,
) -> list[object]:
    """Run ``fn`` over ``args`` in threads; results in order, an ImageProblem in place of a failed one.

    Threads suffice: Pillow, hashlib and torch release the GIL while they work.
    ``progress(done, total)`` is called at most every 0.5 s, and once at the end; whatever it
    raises (a Stop) ends the run of the rest, which is not waited for.
    """
    total = len(args)
    results: list[object] = [None] * total
    last = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        futures = {pool.submit(fn, a): i for i, a in enumerate(args)}
        try:
            for done, fut in enumerate(as_completed(futures), start=1):
                try:
                    results[futures[fut]] = fut.result()
                except ImageProblem as problem:
                    results[futures[fut]] = problem
                if progress and time.monotonic() - last >= PROGRESS_EVERY_S:
                    progress(done, total)
                    last = time.monotonic()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    if progress:
        progress(total, total)
    return results


def _decode(source: Source, max_pixels: int, draft_size: int | None) -> tuple[Image.Image, tuple[int, int]]:
    """Decode to RGB; also return the full-resolution size after EXIF orientation."""
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as img:
            w, h = img.size
            if max(w, h) > MAX_ASPECT * min(w, h):
                raise ImageProblem(THIN.format(w=w, h=h, ratio=MAX_ASPECT))
            reducible = img.format == "JPEG"
            if reducible and w * h > MAX_REDUCED_PIXELS:
                raise ImageProblem(JPEG_TOO_LARGE.format(w=w, h=h, megapixels=MAX_REDUCED_PIXELS / 1e6))
            if reducible:
                _reduce(img, max_pixels, draft_size)
            if img.width * img.height > max_pixels:  # what would be decoded, after any reduction
                raise ImageProblem(TOO_LARGE.format(w=w, h=h, megapixels=max_pixels / 1e6))
            try:
                rgb = portable.decode_rgb(img, draft_size)
                quarter = img.getexif().get(ExifTags.Base.Orientation) in _QUARTER_TURNS
            except portable.UnsupportedColours as err:
                raise ImageProblem(COLOURS.format(colours=err)) from err
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise
            except Exception as err:
                # Decoders for untrusted bytes fail in many ways (OSError, SyntaxError,
                # struct.error, zlib.error, ...); to the user they all mean the same.
                raise ImageProblem(_metadata_too_large(err) or DAMAGED) from err
            return rgb, ((h, w) if quarter else (w, h))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        # The warning only arrives here when warnings are turned into errors.
        raise ImageProblem(TOO_LARGE_TO_OPEN.format(megapixels=max_pixels / 1e6)) from err
    except UnidentifiedImageError as err:
        raise ImageProblem(NOT_AN_IMAGE) from err
    except ValueError as err:  # raised by Image.open itself for a chunk read with the header
        raise ImageProblem(_metadata_too_large(err) or DAMAGED) from err
    except OSError as err:
        if err.errno is None:  # Pillow's own complaint about the bytes, not the file system's
            raise ImageProblem(DAMAGED) from err
        raise ImageProblem(f"could not be opened ({err.strerror})") from err


def _metadata_too_large(err: Exception) -> str:
    """The reason for Pillow's refusal of a text or colour-profile chunk that unpacks past its guard
    (a decompression bomb in the metadata), or "" for any other error."""
    if isinstance(err, ValueError) and "MAX_TEXT_CHUNK" in str(err):
        return HIDDEN_DATA.format(mb=PngImagePlugin.MAX_TEXT_CHUNK // 2**20)
    return ""


def _reduce(img: Image.Image, max_pixels: int, draft_size: int | None) -> None:
    """Set a JPEG's draft scale: the one ``draft_size`` allows, made coarser (up to 1/8) until the
    decoded pixels fit ``max_pixels``. portable.decode_rgb's own draft call then changes nothing."""
    w, h = img.size
    scale = next((s for s in (1, 2, 4, 8) if (w // s) * (h // s) <= max_pixels), 8)
    if scale == 1 and not draft_size:
        return  # full size fits: decode as before, without a draft
    want = (max(1, w // scale), max(1, h // scale))
    if draft_size:
        want = (min(want[0], draft_size), min(want[1], draft_size))
    img.draft("RGB", want)
