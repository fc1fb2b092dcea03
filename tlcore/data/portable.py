"""Classify images with a model exported by the transfer-learning studio, using only numpy,
Pillow and onnxruntime (Python 3.10 or newer):

    pip install onnxruntime numpy "Pillow>=9.1"
    python snippet.py model.onnx photo1.jpg photo2.png ...

It prints one line per image, ``path,class,probability``, and reads the class names, image size,
mean and std from the ONNX file's metadata. A file it cannot read gets a line on stderr instead.
Its lines are CSV that a spreadsheet can open without running anything (see ``spreadsheet_safe``).

The studio's own engine runs exactly these functions (its module tlcore/data/portable.py), so this
file prepares each image the way the model saw its training images.
"""

import csv
import json
import re
import sys

import numpy as np
from PIL import Image, ImageOps

MAX_PIXELS = 40_000_000  # larger images are refused rather than decoded
ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP's CSV injection list,
# with the line feed and the NUL that other guides add).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


class UnsupportedColours(ValueError):
    """The image's colour mode has no conversion to RGB."""


def decode_rgb(img: Image.Image, draft_size: int | None = None) -> Image.Image:
    """An opened, not yet decoded image -> 8-bit RGB, upright, with transparency on white.

    Only the first frame of an animation is decoded. With ``draft_size``, a JPEG is decoded at
    1/2, 1/4 or 1/8 scale (Pillow's draft mode), as long as both sides stay >= draft_size.
    """
    if draft_size and img.format == "JPEG":
        img.draft("RGB", (draft_size, draft_size))
    img.load()
    return to_rgb(ImageOps.exif_transpose(img))


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB: transparency painted on white, 16-bit grey divided by 256,
    32-bit integer (above 255) and float grey scaled by their maximum, the rest via Pillow."""
    if img.mode in ALPHA_MODES or (img.mode in ("P", "L", "RGB") and "transparency" in img.info):
        return on_white(img.convert("RGBA"))
    if img.mode.startswith("I;16"):
        return grey_to_rgb(np.asarray(img, dtype=np.float32) / 256.0)
    if img.mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        peak = float(arr.max(initial=0.0))
        if img.mode == "F" or peak > 255:
            arr = arr * (255.0 / peak) if peak > 0 else arr
        return grey_to_rgb(arr)
    if img.mode == "RGB":
        return img
    try:
        return img.convert("RGB")
    except ValueError as err:
        raise UnsupportedColours(img.mode) from err


def on_white(rgba: Image.Image) -> Image.Image:
    """Paste an RGBA image on a white RGB background, its alpha channel as the mask."""
    out = Image.new("RGB", rgba.size, (255, 255, 255))
    out.paste(rgba, mask=rgba.getchannel("A"))
    return out


def grey_to_rgb(arr: np.ndarray) -> Image.Image:
    """A 2-D array on a 0-255 scale -> RGB: clipped to 0..255, truncated to integers, grey
    repeated in the three channels."""
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).convert("RGB")


def resized_size(width: int, height: int, size: int) -> tuple[int, int]:
    """The shorter side becomes ``size``; the longer one int(size * longer / shorter)."""
    if width <= height:
        return size, int(size * height / width)
    return int(size * width / height), size


def square(img: Image.Image, size: int) -> Image.Image:
    """Resize (bilinear) so the shorter side is ``size``, then cut the centre size x size square,
    its left/top edge at (width - size) // 2 and (height - size) // 2."""
    width, height = resized_size(img.width, img.height, size)
    img = img.resize((width, height), Image.Resampling.BILINEAR)
    left, top = (width - size) // 2, (height - size) // 2
    return img.crop((left, top, left + size, top + size))


def to_input(squares: list[np.ndarray], mean: list[float], std: list[float]) -> np.ndarray:
    """uint8 RGB squares [H, W, 3] -> the model's input: float32 [N, 3, H, W], each value
    divided by 255, then (value - mean) / std per channel (R, G, B)."""
    x = np.stack(squares).astype(np.float32) / 255
    x = (x - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def load(path: str, size: int) -> np.ndarray:
    """One image file -> its uint8 RGB size x size square [size, size, 3]."""
    with Image.open(path) as img:
        if img.width * img.height > MAX_PIXELS:
            raise ValueError(f"too large ({img.width}x{img.height} pixels)")
        rgb = decode_rgb(img)
    return np.asarray(square(rgb, size))


def spreadsheet_safe(cell):
    """A CSV cell that no spreadsheet runs as a formula: text that starts with = + - @, a tab, a
    carriage return, a line feed or a NUL (after any ' it starts with) gets a leading ' (OWASP's
    advice), so a spreadsheet shows it as the text it is. Numbers, and text that is a plain number
    ("-0.5"), are kept as they are. Every CSV the studio writes passes each cell, headers too,
    through this; ``spreadsheet_text`` gives the text back."""
    return "'" + cell if _formula_like(cell) else cell


def spreadsheet_text(cell: str) -> str:
    """The text that ``spreadsheet_safe`` turned into ``cell``."""
    return cell[1:] if cell.startswith("'") and _formula_like(cell) else cell


def _formula_like(cell) -> bool:
    text = cell.lstrip("'") if isinstance(cell, str) else ""
    return text.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(text)


def main(argv: list[str]) -> int:
    """``model.onnx IMG...`` -> ``path,class,probability`` lines; 1 if a file could not be read."""
    import onnxruntime

    if len(argv) < 2:
        print("usage: python snippet.py model.onnx IMAGE...", file=sys.stderr)
        return 2
    session = onnxruntime.InferenceSession(argv[0], providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    if "classes" not in meta:
        print(f"{argv[0]} has no class names: export it again with this version of the studio.",
              file=sys.stderr)
        return 2
    classes, size = json.loads(meta["classes"]), int(meta["image_size"])
    mean, std = json.loads(meta["mean"]), json.loads(meta["std"])
    out, failed = csv.writer(sys.stdout, lineterminator="\n"), 0
    for path in argv[1:]:
        try:
            pixels = load(path, size)
        except Exception as err:  # decoders fail in many ways; each means "cannot use this file"
            print(f"{path}: could not be read ({err})", file=sys.stderr)
            failed += 1
            continue
        (probabilities,) = session.run(["probabilities"], {"image": to_input([pixels], mean, std)})
        best = int(probabilities[0].argmax())
        out.writerow(map(spreadsheet_safe, [path, classes[best], f"{probabilities[0][best]:.6f}"]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
