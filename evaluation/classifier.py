"""The project's domain classifier: features and class probabilities for metrics.

A small CNN trained on a dataset's labels. Its penultimate layer
(`features`, 128 units) is the feature space of FD/KID/precision-recall and
its softmax gives the predicted classes of the collapse metrics and the
Inception Score. Numbers from it are comparable between runs of this project,
not with published FIDs (those need the 2015 FID Inception network).
"""

import os

import keras

from training import data
from zoo import card as cards
from zoo.files import atomic_path, atomic_write_json, sha256_file
from zoo.limits import check_batch

FEATURE_LAYER = "features"
MODEL_FILE = "classifier.keras"
CARD_FILE = cards.CARD_FILE


def build_classifier(image_shape, num_classes, feature_dim=128):
    """Conv classifier over float images in [0, 1]; returns logits."""
    images = keras.Input(tuple(image_shape), name="images")
    x = images
    for channels in (32, 64):
        x = keras.layers.Conv2D(channels, 3, padding="same", activation="relu")(x)
        x = keras.layers.Conv2D(channels, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    features = keras.layers.Dense(feature_dim, activation="relu", name=FEATURE_LAYER)(x)
    x = keras.layers.Dropout(0.3)(features)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(images, logits, name="domain_classifier")


def train_classifier(dataset, out, epochs=5, batch_size=128, seed=0, data_dir=None, command=None,
                     train_split="train", test_split=None, image_shape=None):
    """Trains the domain classifier of `dataset`; writes classifier.keras and model_card.json.

    Args:
        dataset: a labelled TFDS dataset, or `folder:PATH` with one subfolder per class.
        out: folder to write.
        epochs, batch_size, seed: training settings, recorded in the card.
        data_dir: TFDS data directory.
        command: the command line to record in the card.
        train_split, test_split: splits to train on and to measure the
            accuracy on (slices such as "train[:512]" make a quick test); a
            TFDS dataset's test split is "test" by default, an image
            folder's are two slices of `train` that share no image, both given.
        image_shape: `(H, W, C)` to resize the images to: needed for a
            folder, the dataset's own by default for TFDS (the shape the
            evaluated models generate).

    Raises:
        DatasetUnavailableError: the dataset has no labels or fewer than two
            classes, or a folder's `image_shape` or `test_split` is missing,
            or its two slices share images.

    Returns:
        The card: dataset, test accuracy, training settings, sha256.
    """
    keras.utils.set_random_seed(seed)
    if dataset.startswith(data.FOLDER_PREFIX):
        if image_shape is None:
            raise data.DatasetUnavailableError(
                f"{dataset!r} is an image folder: pass --image-shape H,W,C (image_shape), the shape of the "
                "models it will evaluate, e.g. 28,28,1.")
        if test_split is None:
            raise data.DatasetUnavailableError(
                f"{dataset!r} has one split, train: pass two slices of it that share no image, e.g. "
                "--split 'train[:90%]' --test-split 'train[90%:]'.")
        names = data.class_names(dataset, data_dir)
        if not names or len(names) < 2:
            raise data.DatasetUnavailableError(
                f"{dataset!r} has {'one class folder' if names else 'no class subfolders'}; a classifier "
                "needs two classes or more, each in a subfolder of its own.")
        data.check_held_out(dataset, train_split, test_split)
        num_classes = len(names)
    else:
        builder = data.prepare(dataset, data_dir)
        image_key, label_key = data.image_and_label_keys(builder)
        if label_key is None:
            raise data.DatasetUnavailableError(
                f"dataset {dataset!r} has no labels to train a classifier on."
            )
        num_classes = builder.info.features[label_key].num_classes
        image_shape = image_shape or tuple(builder.info.features[image_key].shape)
        test_split = test_split or "test"
        names = data.class_names(dataset, data_dir)
    image_shape = tuple(image_shape)
    train = data.load(dataset, train_split, image_shape=image_shape, batch_size=batch_size, seed=seed,
                      data_dir=data_dir)
    test = data.load(dataset, test_split, image_shape=image_shape, batch_size=1000, shuffle=False,
                     data_dir=data_dir)
    model = build_classifier(image_shape, num_classes)
    check_batch(batch_size, model, f"--batch-size {batch_size}")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(train, epochs=epochs, validation_data=test, shuffle=False)
    _, accuracy = model.evaluate(test, verbose=0)

    # Saved uncompiled: the file holds only what feature extraction needs.
    inference = build_classifier(image_shape, num_classes)
    inference.set_weights(model.get_weights())
    # Each file appears whole or not at all; a kill between the two leaves a
    # card whose sha256 does not match, which loading reports.
    path = os.path.join(out, MODEL_FILE)
    with atomic_path(path) as temporary:
        inference.save(temporary)
    card = cards.new_card(
        "classifier",
        name=f"{data.short_name(dataset)}_classifier",
        version=1,
        dataset=cards.dataset_entry(dataset, names),
        training={"command": command, "config": {
            "train_split": train_split, "test_split": test_split, "epochs": epochs,
            "batch_size": batch_size, "seed": seed}},
        metrics={"test_accuracy": round(float(accuracy), 4)},
        files={MODEL_FILE: sha256_file(path)},
        image={"shape": list(image_shape), "dtype": "uint8", "pixel_normalisation": "uint8 / 255 in [0, 1]"},
        num_classes=int(num_classes),
        feature_layer=FEATURE_LAYER,
    )
    atomic_write_json(os.path.join(out, CARD_FILE), card)
    return card
