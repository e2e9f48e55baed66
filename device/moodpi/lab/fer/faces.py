"""FER-2013 faces in the formats users have, with FER+'s votes beside them where given.

Readers: Kaggle's `fer2013.csv` (emotion,pixels,Usage) with FER+'s `fer2013new.csv`, an image
folder (`<root>/<label>/*.png` or `<root>/<split>/<label>/...`), the `.npz` arrays of
../shared/data/fer2013 with an `.npz` of votes (../shared/data/ferplus), and FER+'s own folders
(label.csv beside the PNGs: votes, no original label). Bad face rows and unreadable images are
skipped and counted, never fatal; votes that do not line up are refused (votes.py).
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodpi.lab.fer import DatasetError
from moodpi.lab.fer.votes import (
    VoteTable,
    clear_majority,
    ferplus_folder,
    folder_usage,
    read_fer2013new,
    read_label_folder,
    read_votes_npz,
)
from moodpi.types import EMOTIONS

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".pgm")
# Split folder names of the common image-folder distribution (train/, test/) per Kaggle Usage.
SPLIT_ALIASES: dict[str, tuple[str, ...]] = {
    "training": ("train",),
    "publictest": ("test", "public_test", "val", "validation"),
    "privatetest": ("private_test",),
}
ORIGINAL, FERPLUS_MAJORITY = "original", "ferplus_majority"


@dataclass(frozen=True)
class Dataset:
    images: list[np.ndarray]  # grey uint8 faces, any size
    labels: np.ndarray  # (N,) int64 indices into EMOTIONS; -1 where a face has no label
    skipped: int  # rows or files that could not be used
    source: str
    votes: np.ndarray | None = None  # (N, 10) FER+ votes (votes.VOTE_NAMES), row i for face i
    votes_source: str | None = None
    label_kind: str = ORIGINAL  # the labels are FER-2013's, or FER+'s clear majority
    usage: str | None = None  # the split the faces come from, where the source says


def load_dataset(
    path: str | Path,
    usage: str = "PublicTest",
    limit: int | None = None,
    votes: str | Path | None = None,
) -> Dataset:
    path, votes_path = Path(path), (Path(votes) if votes else None)
    if not path.exists():
        raise DatasetError(f"dataset not found: {path}")
    if votes_path is not None and not votes_path.is_file():
        raise DatasetError(f"votes not found: {votes_path}")
    ferplus = ferplus_folder(path, usage) if path.is_dir() else None
    if ferplus is not None:
        if votes_path is not None:
            raise DatasetError(f"{path}: a FER+ folder has its votes in label.csv; drop --votes")
        dataset = _read_ferplus(ferplus, usage, limit)
    elif path.is_dir():
        if votes_path is not None:
            raise DatasetError(
                f"{path}: an image folder has no row order to line votes up with; give fer2013.csv "
                "with fer2013new.csv, .npz faces with an .npz of votes, or FER+'s folder"
            )
        images, labels, skipped = _take(_read_folder(path, usage), limit)
        dataset = Dataset(images, np.asarray(labels, np.int64), skipped, str(path), usage=usage)
    elif path.suffix.lower() == ".csv":
        dataset = _read_csv(path, usage, limit, votes_path)
    elif path.suffix.lower() == ".npz":
        dataset = _read_npz(path, limit, votes_path)
    else:
        raise DatasetError(f"{path}: expected fer2013.csv, an image folder or a .npz file")
    if not dataset.images:
        raise DatasetError(f"{path}: no usable faces (usage {usage!r}, {dataset.skipped} skipped)")
    return dataset


def parse_pixels(text: str) -> np.ndarray:
    """Kaggle's space-separated grey values → a square (S, S) uint8 face. ValueError if not."""
    values = np.array(text.split(), dtype=np.int64)
    side = math.isqrt(values.size)
    if values.size == 0 or side * side != values.size:
        raise ValueError(f"{values.size} pixels is not a square image")
    if values.min() < 0 or values.max() > 255:
        raise ValueError("pixel values outside 0..255")
    return values.astype(np.uint8).reshape(side, side)


def _read_csv(path: Path, usage: str, limit: int | None, votes: Path | None) -> Dataset:
    """fer2013.csv; with fer2013new.csv, every row of both is checked, also past `limit`."""
    table = None if votes is None else _csv_votes(votes)
    images: list[np.ndarray] = []
    labels, rows, skipped, row = [], [], 0, -1
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields = {name.strip().lower() for name in reader.fieldnames or ()}
            if not {"emotion", "pixels"} <= fields:
                raise DatasetError(
                    f"{path}: expected columns emotion,pixels[,Usage], got {reader.fieldnames}"
                )
            for row, record in enumerate(reader):
                values = {(k or "").strip().lower(): (v or "") for k, v in record.items()}
                row_usage = values["usage"].strip() if "usage" in fields else None
                if table is not None:
                    table.check_row(row, row_usage, f"{path.name} line {reader.line_num}")
                full = limit is not None and len(images) >= limit
                if full and table is None:
                    break
                if full or (row_usage is not None and row_usage.lower() != usage.lower()):
                    continue
                try:
                    label = int(values["emotion"])
                    if not 0 <= label < len(EMOTIONS):
                        raise ValueError(f"emotion {label} out of range")
                    images.append(parse_pixels(values["pixels"]))
                except ValueError as exc:
                    log.debug("%s line %d skipped: %s", path, reader.line_num, exc)
                    skipped += 1
                    continue
                labels.append(label)
                rows.append(row)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    if table is not None:
        table.check_count(row + 1, path.name)
    return Dataset(
        images,
        np.asarray(labels, dtype=np.int64),
        skipped,
        str(path),
        votes=None if table is None else table.votes[rows],
        votes_source=None if votes is None else str(votes),
        usage=usage if "usage" in fields else None,
    )


def _csv_votes(votes: Path) -> VoteTable:
    if votes.suffix.lower() != ".csv":
        raise DatasetError(f"{votes}: votes for fer2013.csv come as FER+'s fer2013new.csv")
    return read_fer2013new(votes)


# Each folder reader yields (face, label) or None for a skipped file.
Row = tuple[np.ndarray, int] | None


def _take(rows: Iterator[Row], limit: int | None) -> tuple[list[np.ndarray], list[int], int]:
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped = 0
    for row in rows:
        if row is None:
            skipped += 1
            continue
        images.append(row[0])
        labels.append(row[1])
        if limit is not None and len(images) >= limit:
            break
    return images, labels, skipped


def _label_dirs(root: Path) -> dict[int, Path]:
    found = {}
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name.lower() in EMOTIONS:
            found[EMOTIONS.index(child.name.lower())] = child
    return found


def folder_root(root: Path, usage: str) -> Path:
    """The folder holding the label folders: `root` itself, or its split folder for `usage`."""
    if _label_dirs(root):
        return root
    names = {usage.lower(), *SPLIT_ALIASES.get(usage.lower(), ())}
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name.lower() in names and _label_dirs(child):
            return child
    raise DatasetError(
        f"{root}: no label folders ({', '.join(EMOTIONS)}) in it or in a split folder "
        f"matching usage {usage!r}"
    )


def _read_folder(root: Path, usage: str) -> Iterator[Row]:
    import cv2

    try:
        labelled = _label_dirs(folder_root(root, usage))
        for label, folder in sorted(labelled.items()):
            for file in sorted(folder.iterdir()):
                if file.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                face = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
                if face is None or face.size == 0:
                    log.debug("unreadable image skipped: %s", file)
                    yield None
                else:
                    yield face, label
    except OSError as exc:
        raise DatasetError(f"cannot read {root}: {exc}") from exc


def _read_ferplus(folder: Path, usage: str, limit: int | None) -> Dataset:
    """FER+'s folder: the faces, their votes, and the clear majority as their label."""
    images, votes, _, skipped = read_label_folder(folder, limit)
    return Dataset(
        images,
        clear_majority(votes),
        skipped,
        str(folder),
        votes=votes,
        votes_source=str(folder / "label.csv"),
        label_kind=FERPLUS_MAJORITY,
        usage=folder_usage(folder) or usage,
    )


def _read_npz(path: Path, limit: int | None, votes: Path | None) -> Dataset:
    try:
        with np.load(path) as data:
            if "images" not in data.files and "votes" in data.files:
                raise DatasetError(f"{path} holds votes, no faces: give it as --votes")
            images, labels = data["images"], data["labels"]
            names = data["names"].astype(str).tolist() if "names" in data.files else None
            usages = data["usage"].astype(str).tolist() if "usage" in data.files else None
            inside = "votes" in data.files and votes is None
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"cannot read {path} (needs arrays images, labels): {exc}") from exc
    if images.ndim != 3 or images.dtype != np.uint8 or len(images) != len(labels):
        raise DatasetError(f"{path}: expected images (N, H, W) uint8 and N labels")
    source = path if inside else votes
    if source is not None and source.suffix.lower() != ".npz":
        raise DatasetError(f"{source}: votes for .npz faces come as an .npz with a votes array")
    table = None if source is None else read_votes_npz(source)
    if table is not None:
        table.check_count(len(images), path.name)
        if names is not None:
            table.check_names(names, path.name)
        for row, usage in enumerate(usages or ()):
            table.check_row(row, usage, f"{path.name} row {row}")
    valid = (labels >= 0) & (labels < len(EMOTIONS))
    keep = np.flatnonzero(valid)[:limit]
    return Dataset(
        [images[i] for i in keep],
        labels[keep].astype(np.int64),
        int((~valid).sum()),
        str(path),
        votes=None if table is None else table.votes[keep],
        votes_source=None if table is None else str(table.source),
    )
