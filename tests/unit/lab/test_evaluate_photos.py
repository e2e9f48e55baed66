"""`moodpi evaluate --photos`: real photographs end to end and on the whole photo, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from moodpi.lab.evaluate_photos import (
    PhotoReadings,
    _report,
    is_validation_person,
    load_photos,
    paired_difference,
    person_of,
)
from tests.support.daemon import REPO
from tests.support.pace import seconds

PHOTOS = REPO / "tests" / "fixtures" / "photos"


def moodpi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "moodpi", *args],
        capture_output=True,
        text=True,
        timeout=seconds(120),
    )


def test_the_split_is_by_person_and_the_fixtures_are_all_validation_persons() -> None:
    assert person_of("images/Bud_Selig_0004.jpg") == "Bud_Selig"
    assert person_of("images/Dwarakish_129.jpg") == "Dwarakish"
    photos = load_photos(PHOTOS, "all")
    assert len(photos) == 10 and len(load_photos(PHOTOS, "val")) == 10
    assert load_photos(PHOTOS, "train") == []
    assert all(is_validation_person(person_of(p.path.name)) for p in photos)


def test_no_face_counts_against_its_class() -> None:
    probs = np.eye(7, dtype=np.float32)[[3, 3, 6, 0]]
    y = np.array([3, 3, 6, 6])
    found = np.array([True, True, True, False])  # the last neutral photo: no face
    r = _report(probs, y, found)
    assert r["no_face"] == 1 and r["accuracy"] == 0.75
    assert r["recall"]["happy"] == 1.0 and r["recall"]["neutral"] == 0.5
    assert r["support"]["neutral"] == 2 and r["balanced_accuracy"] == 0.75


def _readings(model: str, pred: np.ndarray, y: np.ndarray, persons: np.ndarray) -> PhotoReadings:
    probs = np.eye(7, dtype=np.float32)[pred]
    found = np.ones(len(y), bool)
    return PhotoReadings(model, y, persons, 0, found, {"pipeline": probs, "whole": probs})


def test_paired_difference_is_zero_for_the_same_answers_and_positive_for_better_ones() -> None:
    y = np.array([3, 3, 6, 6, 0, 0, 4, 4])
    persons = np.array(["p", "p", "q", "q", "r", "r", "s", "s"])
    base = _readings("a", np.array([3, 3, 6, 6, 6, 6, 6, 6]), y, persons)
    same = paired_difference(base, _readings("b", base.predictions("whole"), y, persons))
    assert same["pipeline"]["accuracy"] == [0.0, 0.0, 0.0]
    better = paired_difference(base, _readings("c", np.array([3, 3, 6, 6, 0, 0, 6, 6]), y, persons))
    delta, low, high = better["pipeline"]["accuracy"]
    assert delta == 0.25 and low >= 0.0 and high > 0.0  # r's two photos now read, nothing lost
    assert better["model"] == "c" and better["versus"] == "a"


def test_the_report_says_how_many_persons_carry_each_class() -> None:
    y = np.array([1, 1, 1, 1, 3, 3])
    persons = np.array(["dw", "dw", "dw", "kk", "x", "y"])
    r = _report(np.eye(7, dtype=np.float32)[y], y, None, persons)
    assert r["persons"]["disgust"] == 2 and r["largest_person_share"]["disgust"] == 0.75
    assert r["persons"]["happy"] == 2 and r["largest_person_share"]["happy"] == 0.5
    assert r["persons"]["fear"] == 0


def test_evaluate_photos_end_to_end_and_on_the_whole_photo(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    shutil.copytree(PHOTOS, folder)
    (folder / "images" / "broken.jpg").write_bytes(b"not a jpeg")
    with (folder / "labels.csv").open("a") as f:
        f.write("images/broken.jpg,happy\nimages/x.jpg,contempt\n,\n")  # unreadable, unknown, empty
    proc = moodpi(
        "evaluate",
        "--photos",
        str(folder),
        "--split",
        "all",
        "--json",
        "--compare",
        "retired/emotion_v10_int8.tflite",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    both = json.loads(proc.stdout)
    report, other = both["models"]
    assert report["persons"] == 10 and other["model"] == "retired/emotion_v10_int8.tflite"
    assert report["photos"] == 10 and report["unreadable"] == 1
    for reading in ("pipeline", "whole"):
        r = report[reading]
        assert r["faces"] == 10 and 0.0 <= r["ece"] <= 1.0
        assert 0.3 <= r["accuracy"] <= 1.0  # happy and angry news photos are read
        assert sum(map(sum, r["confusion"])) == 10 - r["no_face"]
        for name, (low, high) in r["interval95"].items():
            assert low <= r[name] <= high
        assert sum(r["persons"].values()) == 10  # a person per photo here
    assert report["pipeline"]["no_face"] == 0 and report["whole"]["no_face"] == 0
    (difference,) = both["differences"]
    assert difference["versus"] == report["model"]
    delta, low, high = difference["pipeline"]["accuracy"]
    assert abs(delta - (other["pipeline"]["accuracy"] - report["pipeline"]["accuracy"])) < 1e-3
    assert low <= delta <= high


def test_a_missing_folder_or_nothing_labelled_exits_66(tmp_path: Path) -> None:
    assert moodpi("evaluate", "--photos", str(tmp_path / "nope")).returncode == 66
    (tmp_path / "labels.csv").write_text("file,emotion\n")
    proc = moodpi("evaluate", "--photos", str(tmp_path))
    assert proc.returncode == 66 and "no labelled photos" in proc.stderr


def test_recall_per_person_weighs_each_person_alike() -> None:
    # sad: one person with eight photos read neutral, two others with one photo each read sad
    y = np.array([4] * 10 + [6, 6])
    persons = np.array(["dw"] * 8 + ["a", "b", "c", "c"])
    said = np.array([6] * 8 + [4, 4, 6, 6])
    found = np.array([True] * 11 + [False])  # c's second photo: no face, wrong
    r = _report(np.eye(7, dtype=np.float32)[said], y, found, persons)
    assert r["recall"]["sad"] == 0.2  # two of ten photos
    assert r["recall_per_person"]["sad"] == 0.667  # two of three persons
    assert r["recall_per_person"]["neutral"] == 0.5 and r["recall_per_person"]["fear"] == 0.0
