"""FER+'s ten votes per face (Barsoum et al., ICMI 2016; MIT, github.com/microsoft/FERPlus) in
the three forms users have, checked against the faces row by row, and what the votes say.

- `fer2013new.csv`: a header (Usage, Image name, neutral, ..., NF), then one row for each row of
  Kaggle's fer2013.csv, in the same order; an empty name is a face FER+ dropped (not a face).
- FER+'s folders (FER2013Train, FER2013Valid = PublicTest, FER2013Test = PrivateTest): a
  `label.csv` without a header, `name,"(x, y, w, h)",<ten votes>`, beside the PNGs it names.
- an `.npz` with `votes` (N, 10), and `names` and `usage` (N,) where it has them.

A table that does not line up with its faces (another row count, another usage split, other
names, a malformed row) raises VotesError naming the row: it is refused, never scored.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodpi.lab.fer import DatasetError, VotesError
from moodpi.types import EMOTIONS

VOTE_NAMES = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
)
# FER+'s first seven columns in moodpi's (FER-2013's) class order; contempt, unknown and NF
# (not a face) have no class here.
_AS_FER = ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear")
FER_COLUMNS = np.array([_AS_FER.index(e) for e in EMOTIONS])  # EMOTIONS[i] is column FER_COLUMNS[i]
LABEL_CSV = "label.csv"
# FER+'s folder for each Kaggle usage (its "Valid" is PublicTest, its "Test" PrivateTest).
FOLDERS = {"training": "FER2013Train", "publictest": "FER2013Valid", "privatetest": "FER2013Test"}


def refused(where: str, what: str) -> VotesError:
    return VotesError(f"{where}: {what}; votes refused, nothing scored")


@dataclass(frozen=True)
class VoteTable:
    """Votes (R, 10) in VOTE_NAMES order, row r for the faces' row r."""

    votes: np.ndarray
    source: Path
    usages: Sequence[str] | None = None  # per row, as written
    names: Sequence[str] | None = None  # per row; "" where the row has none
    first_line: int | None = None  # the file line of row 0, where the table is a CSV

    def where(self, row: int) -> str:
        if self.first_line is None:
            return f"{self.source.name} row {row}"
        return f"{self.source.name} line {self.first_line + row}"

    def check_row(self, row: int, usage: str | None, faces_at: str) -> None:
        """The faces' row `row` (at `faces_at`, of `usage` where known) has its votes here."""
        if row >= len(self.votes):
            raise refused(
                faces_at,
                f"no votes for it ({self.source.name} ends after {len(self.votes)} rows): "
                "the row counts differ",
            )
        mine = self.usages[row] if self.usages is not None else None
        if usage is not None and mine is not None and not _same(usage, mine):
            raise refused(
                self.where(row),
                f"usage {mine!r}, but {faces_at} is {usage!r}: the usage splits differ",
            )

    def check_count(self, rows: int, faces: str) -> None:
        if rows != len(self.votes):
            raise refused(
                self.where(min(rows, len(self.votes) - 1)),
                f"{len(self.votes)} rows of votes for the {rows} rows of {faces}: "
                "the row counts differ",
            )

    def check_names(self, names: Sequence[str], faces: str) -> None:
        """Row by row, where both the faces and the votes have a name, the names agree."""
        if self.names is None:
            return
        for row, (theirs, mine) in enumerate(zip(names, self.names, strict=True)):
            if theirs and mine and not _same(theirs, mine):
                raise refused(
                    self.where(row),
                    f"name {mine!r}, but {faces} row {row} is {theirs!r}: the names differ",
                )


def _same(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


def parse_votes(fields: Sequence[str]) -> np.ndarray:
    """Ten non-negative vote counts; ValueError saying what is wrong otherwise."""
    if len(fields) != len(VOTE_NAMES):
        raise ValueError(f"{len(fields)} votes, expected {len(VOTE_NAMES)}")
    try:
        votes = np.array([float(v) for v in fields])
    except ValueError:
        raise ValueError(f"votes {','.join(fields)!r} are not all numbers") from None
    if not np.isfinite(votes).all() or (votes < 0).any():
        raise ValueError(f"votes {','.join(fields)!r} are not all counts >= 0")
    return votes


def read_fer2013new(path: Path) -> VoteTable:
    """FER+'s fer2013new.csv, every row checked; VotesError naming the first malformed row."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = [h.strip().lower() for h in next(reader, [])]
            expected = ["usage", "image name", *(n.lower() for n in VOTE_NAMES)]
            if header != expected:
                raise refused(
                    f"{path.name} line 1",
                    f"expected FER+'s header {','.join(expected)} (a FER+ folder's label.csv is "
                    "given as --dataset, the folder)",
                )
            usages, names, rows = [], [], []
            for fields in reader:
                where = f"{path.name} line {reader.line_num}"
                if len(fields) != len(expected):
                    raise refused(where, f"{len(fields)} fields, expected {len(expected)}")
                if not fields[0].strip():
                    raise refused(where, "no usage")
                try:
                    rows.append(parse_votes(fields[2:]))
                except ValueError as exc:
                    raise refused(where, str(exc)) from None
                usages.append(fields[0].strip())
                names.append(fields[1].strip())
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    votes = np.stack(rows) if rows else np.zeros((0, len(VOTE_NAMES)))
    return VoteTable(votes, path, usages, names, first_line=2)


def read_votes_npz(path: Path) -> VoteTable:
    """An .npz with `votes` (N, 10) and optional `names`, `usage` (N,)."""
    try:
        with np.load(path) as data:
            if "votes" not in data.files:
                raise DatasetError(f"{path}: no `votes` array (FER+ votes, (N, 10))")
            votes = np.asarray(data["votes"])
            names = data["names"].astype(str).tolist() if "names" in data.files else None
            usages = data["usage"].astype(str).tolist() if "usage" in data.files else None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    if votes.ndim != 2 or votes.shape[1] != len(VOTE_NAMES) or votes.dtype.kind not in "iuf":
        raise refused(path.name, f"votes are {votes.dtype} {votes.shape}, expected (N, 10) counts")
    for column, what in ((names, "names"), (usages, "usage")):
        if column is not None and len(column) != len(votes):
            raise refused(path.name, f"{len(column)} {what} for {len(votes)} rows of votes")
    bad = ~np.isfinite(votes).all(axis=1) | (votes < 0).any(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise refused(f"{path.name} row {row}", f"votes {votes[row].tolist()} are not counts >= 0")
    return VoteTable(votes.astype(np.float64), path, usages, names)


def npz_majority(votes: Path, names: Sequence[str] | None, rows: int, faces: str) -> np.ndarray:
    """The clear majority (-1: none) of each of the `rows` faces of `faces`, from an .npz of
    votes for them, row by row (names checked where both have them; VotesError if not)."""
    table = read_votes_npz(votes)
    table.check_count(rows, faces)
    if names is not None:
        table.check_names(names, faces)
    return clear_majority(table.votes)


# ---------------------------------------------------------------------------------------------
# FER+'s own folders


def ferplus_folder(root: Path, usage: str) -> Path | None:
    """The folder holding label.csv: `root` itself, or its FER+ folder for `usage`; None when
    `root` is not a FER+ folder at all."""
    if (root / LABEL_CSV).is_file():
        return root
    if not any((root / name / LABEL_CSV).is_file() for name in FOLDERS.values()):
        return None
    folder = root / FOLDERS.get(usage.lower(), usage)
    if not (folder / LABEL_CSV).is_file():
        raise DatasetError(f"{root}: no {folder.name}/{LABEL_CSV} for usage {usage!r}")
    return folder


def folder_usage(folder: Path) -> str | None:
    """Kaggle's usage of a FER+ folder, by its name."""
    kaggle = {v.lower(): k for k, v in FOLDERS.items()}.get(folder.name.lower())
    return {"training": "Training", "publictest": "PublicTest", "privatetest": "PrivateTest"}.get(
        kaggle or ""
    )


def read_label_folder(
    folder: Path, limit: int | None
) -> tuple[list[np.ndarray], np.ndarray, list[str], int]:
    """(faces, votes (N, 10), names, unreadable images) of a FER+ folder.

    Every row is checked, also past `limit`: a malformed row or a missing image is a VotesError.
    A face image that exists but cannot be decoded is skipped and counted."""
    import cv2

    rows: list[tuple[str, tuple[int, int, int, int], np.ndarray, int]] = []
    try:
        with (folder / LABEL_CSV).open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            for fields in reader:
                where = f"{folder.name}/{LABEL_CSV} line {reader.line_num}"
                if not fields:
                    continue
                try:
                    rows.append((*_label_row(folder, fields), reader.line_num))
                except ValueError as exc:
                    raise refused(where, str(exc)) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"cannot read {folder / LABEL_CSV}: {exc}") from exc
    faces, votes, names, skipped = [], [], [], 0
    for name, (x, y, w, h), row_votes, line in rows[:limit]:
        image = cv2.imread(str(folder / name), cv2.IMREAD_GRAYSCALE)
        if image is None or image.size == 0:
            skipped += 1
            continue
        if x + w > image.shape[1] or y + h > image.shape[0]:
            where = f"{folder.name}/{LABEL_CSV} line {line}"
            raise refused(where, f"face box {(x, y, w, h)} outside the {image.shape} image {name}")
        faces.append(np.ascontiguousarray(image[y : y + h, x : x + w]))
        votes.append(row_votes)
        names.append(name)
    table = np.stack(votes) if votes else np.zeros((0, len(VOTE_NAMES)))
    return faces, table, names, skipped


def _label_row(
    folder: Path, fields: list[str]
) -> tuple[str, tuple[int, int, int, int], np.ndarray]:
    if len(fields) != 2 + len(VOTE_NAMES):
        raise ValueError(f"{len(fields)} fields, expected {2 + len(VOTE_NAMES)}")
    name = fields[0].strip()
    if not name or not (folder / name).is_file():
        raise ValueError(f"image {name!r} is not in {folder.name}/")
    try:
        x, y, w, h = (int(v) for v in fields[1].strip().strip("()").split(","))
    except ValueError:
        raise ValueError(f"face box {fields[1]!r} is not (x, y, w, h)") from None
    if min(x, y) < 0 or min(w, h) < 1:
        raise ValueError(f"face box {fields[1]!r} is empty or negative")
    return name, (x, y, w, h), parse_votes(fields[2:])


# ---------------------------------------------------------------------------------------------
# What the votes say


def seven_class_votes(votes: np.ndarray) -> np.ndarray:
    """(N, 7) votes on moodpi's classes, in EMOTIONS order (contempt, unknown, NF left out)."""
    return np.asarray(votes, dtype=np.float64)[:, FER_COLUMNS]


def clear_majority(votes: np.ndarray) -> np.ndarray:
    """(N,) EMOTIONS index where one of the seven classes holds more than half of all the votes
    (all ten columns), else -1."""
    votes = np.asarray(votes, dtype=np.float64)
    seven = seven_class_votes(votes)
    best = seven.argmax(axis=1)
    clear = seven[np.arange(len(seven)), best] > votes.sum(axis=1) / 2
    return np.where(clear, best, -1).astype(np.int64)
