"""Fashion-MNIST offline from Debian's `dataset-fashion-mnist`, and the network probe.

TFDS rejects the Debian package's files by checksum (Debian recompressed
them; the IDX content is identical), so `debian_fashion_mnist_builder`
writes the TFDS dataset from them with TFDS's own `fashion_mnist` builder
and example generator. The result is the same dataset
`tfds.load("fashion_mnist")` reads. `check_download_hosts` fails at once
when no download host resolves, instead of after TFDS's minutes of retries.
"""

import gzip
import os
import shutil
import socket
import urllib.parse

import tensorflow_datasets as tfds

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def debian_fashion_mnist_builder(data_dir, extracted):
    """TFDS's fashion_mnist builder reading the Debian package's files.

    Args:
        extracted: an empty folder that receives the decompressed IDX files.
    """
    from tensorflow_datasets.image_classification import mnist

    class DebianFashionMNIST(mnist.FashionMNIST, skip_registration=True):
        name = "fashion_mnist"

        def _split_generators(self, dl_manager):
            del dl_manager  # The files are local; nothing is downloaded.
            # TFDS's generator reads decompressed IDX files, as its download
            # manager would have left them.
            paths = {}
            for key, filename in [
                ("train_data", "train-images-idx3-ubyte"),
                ("train_labels", "train-labels-idx1-ubyte"),
                ("test_data", "t10k-images-idx3-ubyte"),
                ("test_labels", "t10k-labels-idx1-ubyte"),
            ]:
                paths[key] = os.path.join(extracted, filename)
                source = os.path.join(DEBIAN_FASHION_MNIST, filename + ".gz")
                with gzip.open(source, "rb") as src, open(paths[key], "wb") as dst:
                    shutil.copyfileobj(src, dst)
            return [
                tfds.core.SplitGenerator(
                    name=split,
                    gen_kwargs=dict(
                        num_examples=count,
                        data_path=paths[f"{prefix}_data"],
                        label_path=paths[f"{prefix}_labels"],
                    ),
                )
                for split, prefix, count in [
                    (tfds.Split.TRAIN, "train", 60_000),
                    (tfds.Split.TEST, "test", 10_000),
                ]
            ]

    return DebianFashionMNIST(data_dir=data_dir)


def debian_files_present():
    """Whether the four `.gz` files of the Debian package are installed."""
    return all(
        os.path.isfile(os.path.join(DEBIAN_FASHION_MNIST, f))
        for f in (
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        )
    )


def check_download_hosts(builder):
    """Fails in milliseconds when no download host of `builder` resolves.

    Offline, TFDS retries each URL with back-off and gives up after minutes;
    a DNS look-up of the hosts in its registered checksums answers at once.
    """
    hosts = {urllib.parse.urlparse(url).hostname for url in (builder.url_infos or {})}
    hosts.discard(None)
    unresolved = []
    for host in sorted(hosts):
        try:
            socket.getaddrinfo(host, 443)
        except OSError:
            unresolved.append(host)
    if hosts and len(unresolved) == len(hosts):
        raise ConnectionError(f"cannot resolve {', '.join(unresolved)}: no network")
