"""uint8 image batches -> grids, strips and animations on disk.

Grids are numpy; PNG and GIF files are encoded by Pillow and written
atomically (`training.files.atomic_write`).
"""

import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from training.files import atomic_write

#: Height of a caption band under each grid cell, in pixels.
CAPTION_HEIGHT = 12


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
    images = upscale(images, scale)
    n, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    font = ImageFont.load_default()
    caption_height = CAPTION_HEIGHT if captions else 0
    cell_width = width
    if captions:
        if len(captions) != n:
            raise ValueError(f"{len(captions)} captions for {n} images; give one per image.")
        cell_width = max(width, *(math.ceil(font.getlength(text)) + 2 for text in captions))
    cell_height = height + caption_height
    grid = np.zeros(
        (rows * (cell_height + padding) + padding, columns * (cell_width + padding) + padding, channels),
        dtype=np.uint8,
    )
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
