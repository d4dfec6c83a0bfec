"""Reconstruction quality of autoencoders: PSNR, SSIM, MS-SSIM via `tf.image`."""

import numpy as np
import tensorflow as tf

#: MS-SSIM scale weights of Wang et al. (2003), finest first.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def reconstruction_metrics(images, reconstructions, filter_size=3):
    """Mean PSNR, SSIM and MS-SSIM of uint8 reconstructions against uint8 images.

    MS-SSIM uses as many of the five standard scales as the image size allows
    with `filter_size` (28x28 images: 4 scales), weights renormalised; the
    number used is returned as `ms_ssim_scales`.
    """
    a = tf.cast(images, tf.float32)
    b = tf.cast(reconstructions, tf.float32)
    side = min(a.shape[1], a.shape[2])
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and side / 2**scales >= filter_size:
        scales += 1
    weights = np.array(MS_SSIM_WEIGHTS[:scales]) / sum(MS_SSIM_WEIGHTS[:scales])
    return {
        "psnr": float(tf.reduce_mean(tf.image.psnr(a, b, max_val=255.0))),
        "ssim": float(tf.reduce_mean(tf.image.ssim(a, b, max_val=255.0, filter_size=filter_size))),
        "ms_ssim": float(tf.reduce_mean(tf.image.ssim_multiscale(
            a, b, max_val=255.0, power_factors=weights.tolist(), filter_size=filter_size))),
        "ms_ssim_scales": scales,
    }
