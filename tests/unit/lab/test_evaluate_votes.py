"""`moodpi evaluate` with FER+'s votes, in the three forms users have them: fer2013new.csv beside
fer2013.csv, FER+'s own folder (label.csv beside the PNGs), an .npz of votes beside .npz faces.
The same faces and votes give the same figures in every form; votes that do not line up are
refused with exit 66, one line naming the row, and nothing scored."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from moodpi.cli.main import main
from moodpi.lab.evaluate import EX_NOINPUT, EX_USAGE
from moodpi.lab.fer.faces import load_dataset
from moodpi.lab.fer.votes import VOTE_NAMES
from moodpi.perception.classify.emotion import EmotionClassifier
from moodpi.types import EMOTIONS
from tests.support.daemon import REPO
from tests.unit.lab.test_votes import ballot

# 17 rows: 14 PublicTest faces (two per emotion), a Training row, a 3-pixel row, an emotion 9.
CSV = REPO / "tests" / "fixtures" / "eval" / "fer2013.csv"
MODEL = "retired/emotion_int8.tflite"
HEADER = ["Usage", "Image name", *VOTE_NAMES]
# FER+'s votes for the 17 rows. The 14 faces' FER-2013 labels are angry, angry, disgust, ...,
# neutral, neutral; the crowd agrees on 8 of the 11 faces with a clear majority.
VOTES = [
    ballot(anger=8, neutral=2),
    ballot(neutral=7, anger=3),  # the crowd: neutral
    ballot(disgust=5, anger=5),  # no clear majority
    ballot(disgust=6, contempt=4),
    ballot(neutral=6, fear=4),  # the crowd: neutral
    ballot(NF=10),  # not a face: FER+ dropped it
    ballot(happiness=10),
    ballot(happiness=9, surprise=1),
    ballot(neutral=8, sadness=2),  # the crowd: neutral
    ballot(sadness=7, neutral=2, unknown=1),
    ballot(surprise=9, fear=1),
    ballot(surprise=5, fear=4, unknown=1),  # no clear majority
    ballot(neutral=10),
    ballot(neutral=6, sadness=3, anger=1),
    ballot(happiness=10),  # the Training row
    ballot(sadness=8, neutral=2),  # the 3-pixel row
    ballot(neutral=9, happiness=1),  # the emotion-9 row
]
FACE_ROWS = list(range(14))  # the rows the PublicTest reader keeps
DROPPED = 5


def fer_rows() -> list[list[str]]:
    with CSV.open(newline="") as f:
        return list(csv.reader(f))[1:]


def ferplus_names() -> list[str]:
    """FER+ numbers the faces it kept, in fer2013.csv's order; a dropped face has no name."""
    names, kept = [], 0
    for row in range(len(VOTES)):
        names.append("" if row == DROPPED else f"fer{kept:07d}.png")
        kept += row != DROPPED
    return names


def rows_of_votes() -> list[list[str]]:
    """fer2013new.csv's rows for the 17 rows of fer2013.csv."""
    usages = [r[2] for r in fer_rows()]
    return [
        [usage, name, *map(str, votes)]
        for usage, name, votes in zip(usages, ferplus_names(), VOTES, strict=True)
    ]


def write_fer2013new(path: Path, rows: list[list[str]] | None = None) -> Path:
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([HEADER, *(rows_of_votes() if rows is None else rows)])
    return path


def write_ferplus_folder(root: Path) -> Path:
    """FER2013Valid/ (PublicTest): the kept PublicTest faces as PNGs and label.csv."""
    folder = root / "FER2013Valid"
    folder.mkdir(parents=True)
    faces = load_dataset(CSV, "PublicTest").images
    names = ferplus_names()
    with (folder / "label.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        for row, face in zip(FACE_ROWS, faces, strict=True):
            if row == DROPPED:
                continue
            cv2.imwrite(str(folder / names[row]), face)
            writer.writerow([names[row], "(0, 0, 48, 48)", *VOTES[row]])
    return folder


def write_npz_pair(root: Path) -> tuple[Path, Path]:
    faces = load_dataset(CSV, "PublicTest")
    names = np.array([f"PublicTest_{row}.jpg" for row in FACE_ROWS])
    np.savez(root / "faces.npz", images=np.stack(faces.images), labels=faces.labels, names=names)
    votes = np.array([VOTES[row] for row in FACE_ROWS], dtype=np.int16)
    np.savez(root / "votes.npz", votes=votes, names=names)
    return root / "faces.npz", root / "votes.npz"


def evaluate_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["evaluate", "--model", MODEL, "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


# ---------------------------------------------------------------------------------------------
# The same figures in every form


def test_the_three_forms_give_the_same_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = write_fer2013new(tmp_path / "fer2013new.csv")
    faces_npz, votes_npz = write_npz_pair(tmp_path)
    from_csv = evaluate_json(capsys, "--dataset", str(CSV), "--votes", str(new))
    from_npz = evaluate_json(capsys, "--dataset", str(faces_npz), "--votes", str(votes_npz))
    from_folder = evaluate_json(capsys, "--dataset", str(write_ferplus_folder(tmp_path / "fp")))

    # fer2013.csv and the npz: the original labels at the top, the votes beside them
    assert from_csv["labels"] == from_npz["labels"] == "original"
    assert from_csv["n"] == 14 and from_csv["skipped"] == 2
    assert from_csv["votes"]["file"] == str(new) and from_npz["votes"]["file"] == str(votes_npz)
    for key in ("accuracy", "macro_f1", "confusion", "ece15", "per_class"):
        assert from_csv[key] == from_npz[key]
    assert {**from_csv["votes"], "file": ""} == {**from_npz["votes"], "file": ""}
    votes = from_csv["votes"]
    assert votes["faces"] == 13 and votes["no_votes"] == 1  # the dropped face: only NF votes
    majority = votes["majority"]
    assert majority["n"] == 11 and majority["original_agreement"] == round(8 / 11, 4)
    assert [majority["per_class"][e]["support"] for e in EMOTIONS] == [1, 1, 0, 2, 1, 1, 5]

    # FER+'s folder: no original label; the clear majority is the label at the top
    assert from_folder["labels"] == "ferplus_majority" and from_folder["usage"] == "PublicTest"
    assert from_folder["n"] == 11 and from_folder["votes"]["faces"] == 13
    for key in ("accuracy", "macro_f1", "confusion", "ece15", "per_class", "n"):
        assert from_folder[key] == majority[key] == from_folder["votes"]["majority"][key]
    for key in ("crowd_agreement", "cross_entropy", "vote_entropy"):
        assert from_folder["votes"][key] == votes[key]
    assert from_folder["votes"]["majority"]["original_accuracy"] is None


def test_the_figures_follow_the_models_readings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Crowd agreement and majority accuracy recomputed by hand from the model's own readings."""
    new = write_fer2013new(tmp_path / "fer2013new.csv")
    report = evaluate_json(capsys, "--dataset", str(CSV), "--votes", str(new))
    classifier = EmotionClassifier.from_file(REPO / "models" / MODEL, flip_average=False)
    faces = load_dataset(CSV, "PublicTest").images
    read = [
        EMOTIONS.index(classifier.labels[int(np.argmax(classifier.classify(f)))]) for f in faces
    ]
    votes = np.array([VOTES[row] for row in FACE_ROWS], dtype=float)
    seven = votes[:, [4, 5, 6, 1, 3, 2, 0]]  # FER+ columns in FER-2013 order
    voted = [i for i in range(14) if seven[i].sum() > 0]
    shares = [seven[i, read[i]] / votes[i].sum() for i in voted]
    assert report["votes"]["crowd_agreement"] == pytest.approx(np.mean(shares), abs=1e-4)
    clear = [i for i in voted if seven[i].max() > votes[i].sum() / 2]
    hits = [read[i] == int(seven[i].argmax()) for i in clear]
    assert report["votes"]["majority"]["accuracy"] == pytest.approx(np.mean(hits), abs=1e-4)


def test_text_and_compare_show_the_votes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = str(write_fer2013new(tmp_path / "fer2013new.csv"))
    args = ["evaluate", "--dataset", str(CSV), "--votes", new, "--model", MODEL]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "FER+ votes" in text and "crowd agreement" in text and "clear majority: 11 faces" in text
    assert main([*args, "--compare", "retired/emotion_v2_int8.tflite", "--json"]) == 0
    both = json.loads(capsys.readouterr().out)["models"]
    assert [r["votes"]["majority"]["n"] for r in both] == [11, 11]
    assert main([*args, "--compare", "retired/emotion_v2_int8.tflite"]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(line.split() for line in lines if line.startswith("majority accuracy"))
    assert [float(v) for v in row[2:]] == [r["votes"]["majority"]["accuracy"] for r in both]
    assert any(line.startswith("crowd agreement") for line in lines)


def test_votes_for_another_kind_of_faces_are_a_usage_or_input_error(tmp_path: Path) -> None:
    new = str(write_fer2013new(tmp_path / "fer2013new.csv"))
    faces_npz, votes_npz = write_npz_pair(tmp_path)
    folder = REPO / "tests" / "fixtures" / "eval" / "folder"
    assert main(["evaluate", "--dataset", str(folder), "--votes", new]) == EX_NOINPUT
    assert main(["evaluate", "--dataset", str(CSV), "--votes", str(votes_npz)]) == EX_NOINPUT
    assert main(["evaluate", "--dataset", str(faces_npz), "--votes", new]) == EX_NOINPUT
    assert main(["evaluate", "--dataset", str(votes_npz)]) == EX_NOINPUT  # votes, no faces
    assert main(["evaluate", "--photos", str(tmp_path), "--votes", new]) == EX_USAGE


# ---------------------------------------------------------------------------------------------
# Votes that do not line up: refused, the row named, nothing scored

Edit = Callable[[list[list[str]]], list[list[str]]]


def _set(row: int, column: int, value: str) -> Edit:
    def edit(rows: list[list[str]]) -> list[list[str]]:
        rows[row][column] = value
        return rows

    return edit


def assert_refused(
    args: list[str],
    where: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.clear()
    assert main(["evaluate", "--model", MODEL, *args]) == EX_NOINPUT
    assert capsys.readouterr().out == ""  # nothing scored
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "\n" not in errors[0]
    assert where in errors[0] and "nothing scored" in errors[0], errors[0]


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda rows: rows[:-1], "fer2013.csv line 18"),  # a row short: fer2013.csv goes on
        (lambda rows: [*rows, rows[-1]], "fer2013new.csv line 19"),  # a row too many
        (_set(14, 0, "PublicTest"), "fer2013new.csv line 16"),  # the Training row
        (_set(0, 0, "PrivateTest"), "fer2013new.csv line 2"),
        (lambda rows: [*rows[:1], rows[2], rows[1], *rows[3:]], None),  # same usage: not seen
        (_set(3, 4, "x"), "fer2013new.csv line 5"),  # not a number
        (_set(16, 11, "-1"), "fer2013new.csv line 18"),  # past the faces read: still checked
        (lambda rows: [*rows[:6], rows[6][:-1], *rows[7:]], "fer2013new.csv line 8"),
        (_set(9, 0, ""), "fer2013new.csv line 11"),  # no usage
    ],
)
def test_fer2013new_that_does_not_line_up_is_refused(
    tmp_path: Path,
    edit: Edit,
    where: str | None,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    new = write_fer2013new(tmp_path / "fer2013new.csv", edit(rows_of_votes()))
    args = ["--dataset", str(CSV), "--votes", str(new), "--limit", "2"]
    if where is None:  # two rows of one usage swapped: no check can see it, the figures move
        assert main(["evaluate", "--model", MODEL, *args]) == 0
        return
    assert_refused(args, where, caplog, capsys)


def test_a_label_csv_given_as_fer2013new_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    label = write_ferplus_folder(tmp_path) / "label.csv"
    assert_refused(
        ["--dataset", str(CSV), "--votes", str(label)], "label.csv line 1", caplog, capsys
    )


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ('fer0000099.png,"(0, 0, 48, 48)",1,0,0,0,0,0,0,0,0,9', "line 4"),  # no such image
        ('fer0000002.png,"(0, 0, 48)",1,0,0,0,0,0,0,0,0,9', "line 4"),  # a box of three
        ('fer0000002.png,"(0, 0, 48, 48)",1,0,0,0,0,0,0,0,9', "line 4"),  # nine votes
        ('fer0000002.png,"(40, 40, 48, 48)",1,0,0,0,0,0,0,0,0,9', "line 4"),  # off the image
    ],
)
def test_ferplus_folder_rows_that_do_not_line_up_are_refused(
    tmp_path: Path,
    line: str,
    where: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = write_ferplus_folder(tmp_path)
    rows = (folder / "label.csv").read_text().splitlines()
    rows[3] = line
    (folder / "label.csv").write_text("\n".join(rows) + "\n")
    assert_refused(["--dataset", str(tmp_path)], f"FER2013Valid/label.csv {where}", caplog, capsys)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda z: {**z, "votes": z["votes"][:-1], "names": z["names"][:-1]}, "votes.npz row 12"),
        (lambda z: {**z, "names": np.roll(z["names"], -1)}, "votes.npz row 0"),
        (lambda z: {**z, "votes": z["votes"] - (np.arange(14)[:, None] == 9)}, "votes.npz row 9"),
        (lambda z: {**z, "votes": z["votes"][:, :9]}, "votes.npz"),
        (
            lambda z: {**z, "usage": np.array(["PublicTest"] * 13 + ["Training"])},
            "votes.npz row 13",
        ),
    ],
)
def test_npz_votes_that_do_not_line_up_are_refused(
    tmp_path: Path,
    change: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
    where: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    faces_npz, votes_npz = write_npz_pair(tmp_path)
    with np.load(faces_npz) as z:
        faces = dict(z)
    np.savez(faces_npz, **faces, usage=np.array(["PublicTest"] * 14))
    with np.load(votes_npz) as z:
        np.savez(votes_npz, **change(dict(z)))
    assert_refused(["--dataset", str(faces_npz), "--votes", str(votes_npz)], where, caplog, capsys)


def test_docs_name_every_key_of_the_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = write_fer2013new(tmp_path / "fer2013new.csv")
    report = evaluate_json(capsys, "--dataset", str(CSV), "--votes", str(new))
    docs = (REPO / "docs" / "evaluate.md").read_text()
    keys = {*report, *report["votes"], *report["votes"]["majority"]}
    assert not {key for key in keys if f"`{key}`" not in docs and f"`majority.{key}`" not in docs}
