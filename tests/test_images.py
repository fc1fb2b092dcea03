"""tlcore.data.images: each decoding rule, on small images the tests make themselves."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from tlcore.data import portable
from tlcore.data.images import (COLOURS, DAMAGED, TOO_LARGE, ImageProblem, check_image, decode_many, load_square_uint8,
                                open_rgb)

WHITE, RED, GREEN, BLUE = (255, 255, 255), (255, 0, 0), (0, 255, 0), (0, 0, 255)


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def pixels(img: Image.Image) -> list[tuple[int, int, int]]:
    assert img.mode == "RGB"
    return [tuple(p) for p in np.asarray(img).reshape(-1, 3).tolist()]


def test_palette_transparency_is_composited_on_white():
    img = Image.new("P", (2, 1))
    img.putpalette([*RED, *BLUE])
    img.putdata([0, 1])
    out = open_rgb(encode(img, transparency=0))
    assert pixels(out) == [WHITE, BLUE]


def test_rgba_is_composited_on_white():
    img = Image.new("RGBA", (3, 1))
    img.putdata([(255, 0, 0, 0), (0, 0, 255, 255), (0, 0, 0, 128)])
    clear, solid, half = pixels(open_rgb(encode(img)))
    assert clear == WHITE and solid == BLUE
    assert all(abs(c - 127) <= 1 for c in half)


def test_la_is_composited_on_white():
    img = Image.new("LA", (2, 1))
    img.putdata([(0, 0), (0, 255)])
    assert pixels(open_rgb(encode(img))) == [WHITE, (0, 0, 0)]


def test_16bit_grey_is_divided_by_256():
    img = Image.fromarray(np.array([[51200, 256]], dtype=np.uint16))
    assert img.mode == "I;16"
    assert pixels(open_rgb(encode(img))) == [(200, 200, 200), (1, 1, 1)]


def test_32bit_int_and_float_are_scaled_by_their_max():
    ints = Image.fromarray(np.array([[0, 500, 1000]], dtype=np.int32))
    floats = Image.fromarray(np.array([[0.0, 0.25, 0.5]], dtype=np.float32))
    assert [p[0] for p in pixels(open_rgb(encode(ints, "TIFF")))] == [0, 127, 255]
    assert [p[0] for p in pixels(open_rgb(encode(floats, "TIFF")))] == [0, 127, 255]


def test_cmyk_converts_to_rgb():
    img = Image.new("CMYK", (2, 2), (0, 255, 255, 0))
    assert set(pixels(open_rgb(encode(img, "TIFF")))) == {RED}


@pytest.mark.parametrize("mode,value,expected", [("L", 90, (90, 90, 90)), ("1", 1, WHITE)])
def test_grey_and_bilevel_replicate_to_rgb(mode, value, expected):
    out = open_rgb(encode(Image.new(mode, (2, 2), value)))
    assert set(pixels(out)) == {expected}


def test_exif_orientation_rotates_and_swaps_width_height():
    img = Image.new("RGB", (40, 20), RED)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = encode(img, "JPEG", exif=exif.tobytes())
    assert open_rgb(data).size == (20, 40)
    assert check_image(data) == (20, 40)


def test_animated_image_uses_first_frame():
    frames = [Image.new("RGB", (4, 4), RED), Image.new("RGB", (4, 4), BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert set(pixels(open_rgb(data))) == {RED}


def test_jpeg_draft_decodes_smaller_but_not_below_draft_size():
    data = encode(Image.new("RGB", (800, 600), GREEN), "JPEG")
    out = open_rgb(data, draft_size=100)
    assert out.size[0] < 800 and min(out.size) >= 100
    assert open_rgb(data).size == (800, 600)
    assert check_image(data) == (800, 600)  # the full size, although decoded small


def test_non_image_is_reported(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("hello")
    with pytest.raises(ImageProblem) as err:
        open_rgb(path)
    assert err.value.reason == "is not an image file"


def test_truncated_jpeg_is_damaged():
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), "JPEG")
    with pytest.raises(ImageProblem) as err:
        open_rgb(data[: len(data) // 2])
    assert err.value.reason == DAMAGED


def test_pixel_limit_is_checked_before_decoding():
    data = encode(Image.new("RGB", (100, 60)))
    with pytest.raises(ImageProblem) as err:
        open_rgb(data, max_pixels=5_000)
    assert err.value.reason == TOO_LARGE.format(w=100, h=60, megapixels=0.005)
    assert open_rgb(data, max_pixels=6_000).size == (100, 60)


def test_pillow_decompression_bomb_is_too_large(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    data = encode(Image.new("RGB", (100, 60)))
    with pytest.raises(ImageProblem) as err:
        open_rgb(data)
    assert err.value.reason.startswith("is too large")


@pytest.mark.parametrize("shape", [(60, 20), (20, 60)])
def test_square_is_shorter_side_resize_then_centre_crop(shape):
    # Three bands along the long side; only the middle (green) one survives a centre crop.
    w, h = shape
    img = Image.new("RGB", shape, RED)
    band = (w // 3, 0, 2 * w // 3, h) if w > h else (0, h // 3, w, 2 * h // 3)
    img.paste(GREEN, band)
    x = load_square_uint8(encode(img), 20)
    assert x.shape == (3, 20, 20) and x.dtype == torch.uint8
    assert (x[1] == 255).all() and (x[0] == 0).all()


@pytest.mark.parametrize("shape,resized,corner", [((37, 50), (20, 27), (0, 3)), ((50, 37), (27, 20), (3, 0)),
                                                   ((41, 41), (20, 20), (0, 0))])
def test_square_is_pillow_bilinear_then_a_floor_centred_crop(shape, resized, corner):
    # The exact rule the model card states: long side int(size * long / short), Pillow's bilinear
    # filter, crop offsets (resized - size) // 2; byte for byte, so the card's script can match it.
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (*shape[::-1], 3), dtype=np.uint8))
    assert portable.resized_size(*shape, 20) == resized
    left, top = corner
    expected = np.asarray(noise.resize(resized, Image.Resampling.BILINEAR))[top:top + 20, left:left + 20]
    x = load_square_uint8(encode(noise), 20)
    assert np.array_equal(x.permute(1, 2, 0).numpy(), expected)


def test_unconvertible_colours_are_named(monkeypatch):
    def refuse(img):
        raise portable.UnsupportedColours("XYZ")

    monkeypatch.setattr(portable, "to_rgb", refuse)
    with pytest.raises(ImageProblem) as err:
        open_rgb(encode(Image.new("RGB", (4, 4))))
    assert err.value.reason == COLOURS.format(colours="XYZ")


def test_square_resizes_shorter_side_to_size():
    x = load_square_uint8(encode(Image.new("RGB", (80, 40), BLUE)), 16)
    assert x.shape == (3, 16, 16) and (x[2] == 255).all()


def test_decode_many_keeps_order_and_reports_failures(tmp_path):
    paths = []
    for name, content in [("a.png", RED), ("b.txt", None), ("c.png", BLUE), ("missing.png", False)]:
        path = tmp_path / name
        if content:
            Image.new("RGB", (10, 10), content).save(path)
        elif content is None:
            path.write_text("not an image")
        paths.append(path)
    calls = []
    x, failed = decode_many(paths, 8, workers=3, progress=lambda d, t: calls.append((d, t)))
    assert failed == [1, 3]
    assert x.shape == (2, 3, 8, 8)
    assert x[0, 0].eq(255).all() and x[0, 2].eq(0).all()  # red first
    assert x[1, 2].eq(255).all() and x[1, 0].eq(0).all()  # then blue
    assert calls[-1] == (4, 4)


def test_png_is_checked_by_its_chunk_checksums_and_a_damaged_one_still_named():
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (60, 90, 3), dtype=np.uint8)).save(buf, "PNG")
    data = buf.getvalue()
    assert check_image(data) == (90, 60)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF  # inside the compressed pixels: their checksum no longer holds
    for damaged in (bytes(flipped), data[: len(data) // 2]):
        with pytest.raises(ImageProblem) as err:
            check_image(damaged)
        assert err.value.reason == DAMAGED
