"""`zoo.run_folder.RunFolder`: a run folder's names and paths, each written once."""

import os

from zoo.files import LOCK_FILE
from zoo.run_folder import RunFolder


def test_files_are_joined_to_the_folder():
    folder = RunFolder(os.path.join("runs", "dcgan"))
    assert folder.model == os.path.join("runs", "dcgan", "model.keras")
    assert folder.best == os.path.join("runs", "dcgan", "best.keras")
    assert folder.config == os.path.join("runs", "dcgan", "config.json")
    assert folder.history == os.path.join("runs", "dcgan", "history.json")
    assert folder.backup == os.path.join("runs", "dcgan", "backup.npz")
    assert folder.samples == os.path.join("runs", "dcgan", "samples")
    assert folder.logs == os.path.join("runs", "dcgan", "logs")
    assert folder.card == os.path.join("runs", "dcgan", "model_card.json")


def test_export_versions_have_run_relative_paths_in_install_order():
    paths = RunFolder.export_paths(3)
    assert paths == ("tflite/3", "saved_model/3", "exports/3/model_card.json")  # the manifest, the commit, last
    assert paths.saved_model == "saved_model/3"


def test_export_version_paths_are_inside_the_folder():
    folder = RunFolder("run")
    assert folder.saved_model(2) == os.path.join("run", "saved_model", "2")
    assert folder.tflite(2) == os.path.join("run", "tflite", "2")
    assert folder.manifest(2) == os.path.join("run", "exports", "2", "model_card.json")
    assert folder.exports == os.path.join("run", "exports")


def test_command_outputs_keep_their_names():
    assert RunFolder.samples_file(7) == "samples_seed7.png"
    assert (RunFolder.METRICS, RunFolder.NEAREST_TRAIN, RunFolder.REPORT, RunFolder.INTERPOLATION,
            RunFolder.TRAVERSAL, RunFolder.RECONSTRUCTIONS, RunFolder.WEB) == (
        "metrics.json", "nearest_train.json", "report.html", "interpolation.gif", "traversal.png",
        "reconstructions.png", "web")


def test_the_lock_file_is_the_one_run_lock_takes():
    assert RunFolder.LOCK == LOCK_FILE == ".zoo.lock"


def test_overwrite_removes_outputs_and_staging_but_not_config_lock_or_reports(tmp_path):
    for name in (".export-abc", ".export-def", "config.json", ".zoo.lock", "report.html", "notes.txt"):
        (tmp_path / name).touch()
    removed = {os.path.relpath(path, tmp_path) for path in RunFolder(tmp_path).overwritten()}
    assert removed == {"model.keras", "best.keras", "backup.npz", "history.json", "samples", "logs",
                       "saved_model", "tflite", "exports", "metrics.json", "nearest_train.json", ".export.lock",
                       ".export-abc", ".export-def"}


def test_staging_folders_of_a_missing_folder_are_none(tmp_path):
    assert RunFolder(tmp_path / "missing").staging_folders() == []


def test_state_is_what_resuming_reads():
    assert set(RunFolder.STATE) == {"config.json", "history.json", "backup.npz", "model.keras", "best.keras"}
