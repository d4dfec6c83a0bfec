"""`train_classifier` (`zoo train-classifier`): the files it writes and the accuracy its card records."""

import hashlib
import json

from evaluation.classifier import CARD_FILE, MODEL_FILE, train_classifier
from evaluation.features import DomainExtractor
from training import data


def test_train_classifier_writes_a_model_and_a_card_with_its_sha256_and_measured_accuracy(tmp_path):
    # 512 images, one epoch (8 steps): seconds, not the shipped classifier's minutes.
    card = train_classifier("fashion_mnist", str(tmp_path), epochs=1, batch_size=64, seed=0,
                            command=["zoo", "train-classifier"], train_split="train[:512]",
                            test_split="test[:300]")
    model_path, card_path = tmp_path / MODEL_FILE, tmp_path / CARD_FILE
    assert json.loads(card_path.read_text()) == card
    assert card["schema_version"] == 1 and card["kind"] == "classifier"
    assert card["files"] == {"classifier.keras": hashlib.sha256(model_path.read_bytes()).hexdigest()}
    assert card["dataset"]["name"] == "fashion_mnist" and card["num_classes"] == 10
    assert card["dataset"]["class_names"][0] == "T-shirt/top" and card["dataset"]["licence"].startswith("MIT")
    assert card["image"]["shape"] == [28, 28, 1] and card["feature_layer"] == "features"
    config = card["training"]["config"]
    assert (config["epochs"], config["batch_size"], config["seed"]) == (1, 64, 0)
    assert (config["train_split"], config["test_split"]) == ("train[:512]", "test[:300]")
    # The written file, used as an evaluation extractor, scores the accuracy the card records.
    extractor = DomainExtractor(tmp_path)
    images, labels = data.load_images("fashion_mnist", "test[:300]")
    features, probabilities = extractor(images)
    assert features.shape == (300, 128)
    accuracy = float((probabilities.argmax(axis=1) == labels).mean())
    assert card["metrics"]["test_accuracy"] == round(accuracy, 4)
    assert accuracy > 0.2  # eight steps learn something: chance is 0.1
