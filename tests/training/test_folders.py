"""Image folders: class subfolders as labels, slices of the one split, the checks of bad layouts."""

import shutil

import numpy as np
import pytest

import zoo
from tests.conftest import tiny_model, write_image_folder, write_labelled_folder
from training import data


def _classes_of(images):
    """Grey level 40 + 80 k of `write_labelled_folder` -> class k."""
    return np.round((images.reshape(len(images), -1).mean(axis=1) - 40) / 80).astype(int)


def test_class_subfolders_are_the_labels_sorted_as_keras_sorts_them(tmp_path):
    names = write_labelled_folder(tmp_path, per_class=(12, 8, 10))
    folder = data.read_folder(str(tmp_path))
    assert folder.class_names == ("cat", "dog", "fox") == tuple(sorted(names))
    # Files one folder down belong to their class; the hidden `.cache/` is no class.
    assert len(folder.files) == 30 and not any("/.cache/" in f for f in folder.files)
    assert sum("/more/" in f for f in folder.files) == 4 + 2 + 3
    assert np.bincount(folder.labels).tolist() == [12, 8, 10]
    assert data.class_names(f"folder:{tmp_path}") == ["cat", "dog", "fox"]
    images, labels = data.load_images(f"folder:{tmp_path}", "train", image_shape=(8, 8, 1))
    assert images.shape == (30, 8, 8, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(_classes_of(images), labels)  # each image carries its folder's label


def test_slices_of_train_are_disjoint_and_fixed_by_each_files_path(tmp_path):
    write_labelled_folder(tmp_path / "a")
    folder = data.read_folder(str(tmp_path / "a"))
    train, train_labels = folder.split("train[:80%]")
    held_out, held_out_labels = folder.split("train[80%:]")
    assert len(train) == 24 and len(held_out) == 6
    assert not set(train) & set(held_out) and set(train) | set(held_out) == set(folder.files)
    assert folder.split("train[:10]+train[-2:]")[0] == list(folder.files[:10] + folder.files[-2:])
    # The order is not the classes one after another: the held-out slice is not one class's tail.
    assert len(set(held_out_labels)) > 1 and len(set(train_labels)) == 3
    # The same files elsewhere, listed in another order, fall in the same slices.
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    moved = data.read_folder(str(tmp_path / "b")).split("train[80%:]")[0]
    assert [f.replace(str(tmp_path / "b"), "") for f in moved] == [f.replace(str(tmp_path / "a"), "") for f in held_out]


def test_a_changed_folder_is_read_again(tmp_path):
    write_labelled_folder(tmp_path, per_class=(3, 3))
    assert len(data.read_folder(str(tmp_path)).files) == 6
    shutil.copy(tmp_path / "cat" / "cat00.png", tmp_path / "dog" / "new.png")
    folder = data.read_folder(str(tmp_path))
    assert len(folder.files) == 7 and np.bincount(folder.labels).tolist() == [3, 4]


def test_a_flat_folder_has_no_class_names(tmp_path):
    write_image_folder(tmp_path)
    with pytest.warns(UserWarning, match="skipping 2 of 10"):
        folder = data.read_folder(str(tmp_path))
    assert folder.labels is None and folder.class_names is None and len(folder.files) == 8
    assert data.class_names(f"folder:{tmp_path}") is None
    assert set(folder.split("train[50%:]")[1]) == {-1}


@pytest.mark.parametrize("split, expected", [
    ("test", "one split, 'train', which slices"),
    ("train[:1%]", "holds none of its 30 images"),
    ("train[:x]", "one split, 'train', which slices"),
])
def test_a_bad_slice_says_how_to_slice(tmp_path, split, expected):
    write_labelled_folder(tmp_path)
    with pytest.raises(data.DatasetUnavailableError, match=expected.replace("(", r"\(")):
        data.load(f"folder:{tmp_path}", split, image_shape=(8, 8, 1))


def test_overlapping_slices_are_refused(tmp_path):
    write_labelled_folder(tmp_path)
    data.check_held_out(f"folder:{tmp_path}", "train[:80%]", "train[80%:]")
    with pytest.raises(data.DatasetUnavailableError, match="share 3 images"):
        data.check_held_out(f"folder:{tmp_path}", "train[:80%]", "train[70%:]")


def test_a_conditional_model_learns_the_folders_classes(tmp_path):
    write_labelled_folder(tmp_path)
    model = tiny_model("cgan", num_classes=3)
    train = data.load(f"folder:{tmp_path}", "train[:80%]", model=model, batch_size=8)
    images, labels = next(iter(train))
    assert images.shape == (8, *model.image_shape)
    pixels = (images.numpy() + 1) * 127.5  # the GAN's (-1, 1) back to grey levels
    np.testing.assert_array_equal(_classes_of(pixels), labels.numpy())
    history = model.fit(train, epochs=1, verbose=0).history
    assert np.isfinite(history["g_loss"]).all()
    with pytest.raises(data.LabelMismatchError, match="has 3 classes .* pass --set num_classes=3"):
        data.load(f"folder:{tmp_path}", model=tiny_model("cgan"), batch_size=8)


def test_the_train_stream_resumes_a_folder_slice_in_the_same_order(tmp_path):
    write_labelled_folder(tmp_path)
    model = tiny_model("cgan", num_classes=3)
    whole, per_pass = data.stream(f"folder:{tmp_path}", "train[:80%]", model=model, batch_size=4, seed=3)
    assert per_pass == 6
    first = [labels.numpy().tolist() for _, labels in whole.take(9)]
    later, _ = data.stream(f"folder:{tmp_path}", "train[:80%]", model=model, batch_size=4, seed=3, start_step=7)
    assert [labels.numpy().tolist() for _, labels in later.take(2)] == first[7:9]


def test_every_conditional_family_trains_on_a_labelled_folder(tmp_path):
    write_labelled_folder(tmp_path)
    conditional = [name for name in zoo.names() if tiny_model(name).num_classes]
    assert {"cgan", "cvae", "cflow"} <= set(conditional)
    for name in conditional:
        model = tiny_model(name, num_classes=3)
        train = data.load(f"folder:{tmp_path}", "train[:80%]", model=model, batch_size=8)
        history = model.fit(train.take(1), epochs=1, verbose=0).history
        assert all(np.isfinite(v).all() for v in history.values()), name
