"""uint8 image batches -> grids, strips and animations on disk.

Grids are numpy; PNG and GIF files are encoded by Pillow and written
atomically (`zoo.files.atomic_write`).
"""

import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from zoo.files import atomic_write
from zoo.limits import LimitError

#: Height of a caption band under each grid cell, in pixels.
CAPTION_HEIGHT = 12
#: Most pixels one written image (a GIF: all its frames) may have: Pillow's
#: decompression-bomb threshold, above which Pillow, and the tools built on
#: it, warn about a file or refuse to open it.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS


def upscale(images, scale):
    """Nearest-neighbour upscaling of `(..., H, W, C)` by an integer factor (crisp pixels)."""
    if scale == 1:
        return np.asarray(images)
    return np.asarray(images).repeat(scale, axis=-3).repeat(scale, axis=-2)


def make_grid(images, columns=None, padding=2, scale=1, captions=None):
    """Tiles uint8 images `(n, H, W, C)` into one `(rows*H', cols*W', C)` image.

    Args:
        images: uint8 `(n, H, W, C)`.
        columns: cells per row (default: the smallest square that fits `n`).
        padding: black pixels between and around cells.
        scale: integer nearest-neighbour upscaling of every image.
        captions: optional text under each cell (e.g. `"seed 3"`), one per
            image; cells widen to fit the longest.

    Returns:
        uint8 `(height, width, C)`.
    """
    n, height, width, channels = np.shape(images)
    if captions and len(captions) != n:
        raise ValueError(f"{len(captions)} captions for {n} images; give one per image.")
    layout = grid_layout(n, (height, width), columns, padding, scale, captions)
    images = upscale(images, scale)
    height, width = height * scale, width * scale
    columns, cell_width, cell_height = layout["columns"], layout["cell_width"], layout["cell_height"]
    font = ImageFont.load_default()
    grid = np.zeros((*layout["size"], channels), dtype=np.uint8)
    for i, image in enumerate(images):
        top = padding + (i // columns) * (cell_height + padding)
        left = padding + (i % columns) * (cell_width + padding) + (cell_width - width) // 2
        grid[top : top + height, left : left + width] = image
    if not captions:
        return grid
    canvas = Image.fromarray(grid[..., 0] if channels == 1 else grid)
    draw = ImageDraw.Draw(canvas)
    for i, text in enumerate(captions):
        top = padding + (i // columns) * (cell_height + padding) + height
        left = padding + (i % columns) * (cell_width + padding)
        draw.text((left + 1, top + 1), text, fill=255 if channels == 1 else (255, 255, 255), font=font)
    drawn = np.asarray(canvas)
    return drawn[..., None] if channels == 1 else drawn


def grid_layout(n, image_size, columns=None, padding=2, scale=1, captions=None):
    """Where `make_grid` puts `n` images of `image_size` `(H, W)`, computed without any pixels.

    Returns:
        dict with `columns`, `rows`, `cell_width`, `cell_height` and
        `size`, the grid's `(height, width)` in pixels.
    """
    height, width = image_size[0] * scale, image_size[1] * scale
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    cell_width = width
    if captions:
        font = ImageFont.load_default()
        cell_width = max(width, *(math.ceil(font.getlength(text)) + 2 for text in captions))
    cell_height = height + (CAPTION_HEIGHT if captions else 0)
    size = (rows * (cell_height + padding) + padding, columns * (cell_width + padding) + padding)
    return {"columns": columns, "rows": rows, "cell_width": cell_width, "cell_height": cell_height,
            "size": size}


def check_size(size, frames, what, advice):
    """Refuses an image file of more than `MAX_PIXELS` pixels, before any of them is made.

    Args:
        size: `(height, width)` of the image, or of each frame of a GIF.
        frames: 1 for a PNG; a GIF's frame count.
        what: the request, e.g. "-n 64 --scale 100000".
        advice: how to get more (several files, a smaller scale).

    Raises:
        zoo.limits.LimitError: the file would be larger than `MAX_PIXELS`.
    """
    pixels = size[0] * size[1] * frames
    if pixels > MAX_PIXELS:
        shape = f"{size[1]:,} x {size[0]:,} pixels" + (f" x {frames:,} frames" if frames > 1 else "")
        raise LimitError(f"{what} makes an image of {shape}, over the {MAX_PIXELS:,}-pixel limit of one "
                         f"file; {advice}.")


def encode_png(image):
    """PNG bytes of a uint8 `(H, W, C)` image, C in 1, 3."""
    buffer = io.BytesIO()
    _pillow(image).save(buffer, format="PNG")
    return buffer.getvalue()


def write_png(path, image):
    """Writes a uint8 `(H, W, C)` image as PNG (atomically), creating parent folders."""
    atomic_write(path, encode_png(image))


def write_gif(path, frames, scale=1, milliseconds=60):
    """Writes uint8 frames `(n, H, W, C)` as a looping GIF (atomically).

    Args:
        path: the `.gif` file.
        frames: uint8 `(n, H, W, C)`.
        scale: integer nearest-neighbour upscaling.
        milliseconds: display time of each frame.
    """
    images = [_pillow(frame) for frame in upscale(frames, scale)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], loop=0,
                   duration=milliseconds, disposal=1)
    atomic_write(path, buffer.getvalue())


def write_images(path, frames, columns=None, scale=1, captions=None):
    """Writes frames as a GIF animation (`.gif`) or a PNG grid or strip (`.png`)."""
    if str(path).lower().endswith(".gif"):
        write_gif(path, frames, scale=scale)
    else:
        write_png(path, make_grid(frames, columns=columns, scale=scale, captions=captions))


def _pillow(image):
    image = np.asarray(image, np.uint8)
    return Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
