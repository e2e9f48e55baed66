"""`moodpi evaluate`: the readers agree with each other; the command on FER-2013 faces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from moodpi.cli.main import main
from moodpi.config import from_dict
from moodpi.lab.evaluate import EX_NOINPUT, evaluate
from moodpi.lab.fer import DatasetError
from moodpi.lab.fer.faces import load_dataset, parse_pixels
from moodpi.perception.classify.emotion import EmotionClassifier
from tests.support.daemon import REPO

EVAL = REPO / "tests" / "fixtures" / "eval"
CSV = EVAL / "fer2013.csv"
FOLDER = EVAL / "folder"
INT8 = REPO / "models" / "retired" / "emotion_int8.tflite"
SAME_KEYS = ("accuracy", "macro_f1", "per_class", "confusion", "n", "ece15")


@pytest.fixture(scope="module")
def classifier() -> EmotionClassifier:
    return EmotionClassifier.from_file(INT8)


# ---------------------------------------------------------------------------------------------
# Readers


def test_csv_filters_usage_and_counts_bad_rows() -> None:
    public = load_dataset(CSV, "PublicTest")
    assert len(public.images) == 14 and public.skipped == 2  # 3 pixels; emotion 9
    assert np.bincount(public.labels).tolist() == [2] * 7
    assert all(face.shape == (48, 48) and face.dtype == np.uint8 for face in public.images)
    training = load_dataset(CSV, "training")  # usage matches case-insensitively
    assert len(training.images) == 1 and training.images[0].shape == (4, 4)
    assert training.labels.tolist() == [3]
    assert len(load_dataset(CSV, "PublicTest", limit=5).images) == 5


def test_folder_with_split_or_flat_and_a_corrupt_image() -> None:
    split = load_dataset(FOLDER, "PublicTest")  # folder/test/<label>/: "test" stands for PublicTest
    flat = load_dataset(FOLDER / "test", "anything")  # label folders right here
    assert len(split.images) == len(flat.images) == 14
    assert split.skipped == flat.skipped == 1  # corrupt.png
    assert split.labels.tolist() == flat.labels.tolist()
    with pytest.raises(DatasetError, match="usage 'Training'"):
        load_dataset(FOLDER, "Training")


def test_csv_folder_and_npz_give_identical_numbers(
    classifier: EmotionClassifier, tmp_path: Path
) -> None:
    from_csv = load_dataset(CSV, "PublicTest")
    npz = tmp_path / "faces.npz"
    np.savez(npz, images=np.stack(from_csv.images), labels=from_csv.labels)
    reports = [
        evaluate(classifier, load_dataset(source, "PublicTest"))[0] for source in (CSV, FOLDER, npz)
    ]
    for report in reports[1:]:
        assert {k: report[k] for k in SAME_KEYS} == {k: reports[0][k] for k in SAME_KEYS}
    assert reports[0]["n"] == 14 and np.sum(reports[0]["confusion"]) == 14


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "not found"),
        ("label,image\n1,2\n", "expected columns"),
        (b"\xff\xfe\x00bad", "cannot read"),
    ],
)
def test_unusable_csv_is_a_dataset_error(
    tmp_path: Path, content: str | bytes | None, match: str
) -> None:
    path = tmp_path / "fer2013.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(DatasetError, match=match):
        load_dataset(path)


def test_parse_pixels() -> None:
    assert parse_pixels("0 255 3 4").tolist() == [[0, 255], [3, 4]]
    for bad in ("1 2 3", "", "0 256 1 1", "a b c d"):
        with pytest.raises(ValueError):
            parse_pixels(bad)


# ---------------------------------------------------------------------------------------------
# The command


def test_cli_json_on_the_csv(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--dataset", str(CSV), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {
        "accuracy",
        "macro_f1",
        "per_class",
        "confusion",
        "n",
        "model",
        "runtime",
        "flip",
    } <= set(report)
    defaults = from_dict({}).emotion
    assert report["n"] == 14 and report["skipped"] == 2 and report["flip"] is defaults.flip_average
    assert set(report["per_class"]) == {
        "angry",
        "disgust",
        "fear",
        "happy",
        "sad",
        "surprise",
        "neutral",
    }
    assert report["model"].endswith(defaults.model)  # the configured default model


def test_cli_text_with_model_flip_and_limit(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "evaluate",
            "--dataset",
            str(FOLDER),
            "--model",
            "retired/emotion_float32.tflite",
            "--flip",
            "--limit",
            "3",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "emotion_float32.tflite" in out and "flip=True" in out and ": 3 faces" in out
    assert "confusion" in out and "macro-F1" in out and "ms per face (median)" in out


def test_cli_compares_models_on_the_same_faces(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["evaluate", "--dataset", str(CSV), "--model", "retired/emotion_v2_int8.tflite"]
    assert main([*args, "--compare", "retired/emotion_int8.tflite", "--json"]) == 0
    both = json.loads(capsys.readouterr().out)["models"]
    models = ["retired/emotion_v2_int8.tflite", "retired/emotion_int8.tflite"]
    assert [r["model"][-len(m) :] for r, m in zip(both, models, strict=True)] == models
    assert both[0]["n"] == both[1]["n"] == 14
    assert all(r["ms_per_face"] > 0 for r in both)  # timed around the real classify calls
    for report, model in zip(both, models, strict=True):
        assert main(["evaluate", "--dataset", str(CSV), "--model", model, "--json"]) == 0
        alone = json.loads(capsys.readouterr().out)
        assert {k: alone[k] for k in SAME_KEYS} == {k: report[k] for k in SAME_KEYS}

    assert main([*args, "--compare", "retired/emotion_int8.tflite"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[1].split() == ["emotion_v2_int8", "emotion_int8"]
    accuracy = text[2].split()
    assert accuracy[0] == "accuracy" and float(accuracy[1]) == both[0]["accuracy"]
    assert float(accuracy[2]) == both[1]["accuracy"]
    assert any(line.split()[0] == "disgust" for line in text[7:])


def test_cli_compare_with_a_missing_model_exits_66() -> None:
    args = ["evaluate", "--dataset", str(CSV), "--compare", "no_such_model.tflite"]
    assert main(args) == EX_NOINPUT


def test_cli_missing_or_empty_dataset_exits_66(tmp_path: Path) -> None:
    assert main(["evaluate", "--dataset", str(tmp_path / "missing.csv")]) == EX_NOINPUT
    assert main(["evaluate", "--dataset", str(tmp_path)]) == EX_NOINPUT  # no label folders
    (tmp_path / "x.csv").write_text("emotion,pixels,Usage\n")
    assert main(["evaluate", "--dataset", str(tmp_path / "x.csv")]) == EX_NOINPUT
