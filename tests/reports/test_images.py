"""Grids on disk: the layout known before any pixel, and the size limit of one file."""

import numpy as np
import pytest

from reports import images
from zoo.limits import LimitError


@pytest.mark.parametrize("n, columns, scale, captions", [
    (1, None, 1, False), (10, None, 3, False), (10, 4, 2, True), (64, 10, 1, True), (7, 7, 4, False)])
def test_the_layout_is_the_size_make_grid_makes(n, columns, scale, captions):
    pictures = np.zeros((n, 12, 9, 1), np.uint8)
    texts = [f"#{1000 + i} c{i % 10}" for i in range(n)] if captions else None
    layout = images.grid_layout(n, (12, 9), columns=columns, scale=scale, captions=texts)
    grid = images.make_grid(pictures, columns=columns, scale=scale, captions=texts)
    assert grid.shape[:2] == layout["size"]


def test_an_image_over_the_pixel_limit_is_refused_with_its_size_and_the_way_round():
    side = int(images.MAX_PIXELS ** 0.5)
    images.check_size((side, side), 1, "fits", "never said")
    with pytest.raises(LimitError, match=r"^-n 9 makes an image of 30,000 x 3,000 pixels x 2 frames, over the "
                                         r"89,478,485-pixel limit of one file; write several\.$"):
        images.check_size((3000, 30000), 2, "-n 9", "write several")
