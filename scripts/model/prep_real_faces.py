"""Cut real photographs into training faces the way the runtime would, with a person-disjoint split.

For `train_model.py --real-faces`: every photo of a labelled folder (lfw-expressions layout:
`images/*.jpg` and `labels.csv` with `file,emotion`) goes through moodpi's own perception crop —
the BlazeFace detector with the default config (min score, min size), the largest face, the box
grown by `faces.margin` and moved up by `faces.shift_up`, grey — and is resized to 48x48 as
`moodpi.emotion.resize_face` does (area when shrinking), the side the trainer augments at before
it enlarges to the model's input as it does FER-2013 faces.

A photo in which the detector finds no face (the film-frame crops of lfw-expressions fill the
whole image, which BlazeFace often misses) is tried again with a grey border around it, so the
box still comes from the detector; if that fails too, the whole image is the crop and the face is
marked `detected = False`.

Split: the person is the file name minus the trailing `_NNNN.jpg` (`_NN.jpg` for the film
frames); a person is in validation when the first 8 bytes of sha256(person) mod 100 are below
`--val-percent` (25), so the split depends on nothing but the names and no person is on both
sides. The trainer never trains on `split == "val"` faces and reports its accuracy on them.

Runs in the runtime venv (it needs moodpi, OpenCV and the TFLite runtime, not TensorFlow):

    .venv/bin/python scripts/model/prep_real_faces.py \\
        --real-photos ../shared/data/lfw-expressions --out train-runs/lfw_faces48.npz

The .npz (never committed; the photos stay in shared/) holds `images` (N, 48, 48) uint8,
`labels` (N,) in FER-2013 order, `files`, `persons`, `split` ("train" | "val"), `detected`,
and `boxes` (x, y, w, h of the detector's box in the photo; -1 when not detected).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
MIN_DETECTED = 0.9  # lfw-expressions: 99.6 % found with the still-image path
_PERSON = re.compile(r"_\d+\.jpe?g$", re.IGNORECASE)


def person_of(file_name: str) -> str:
    """`Abdel_Nasser_Assidi_0002.jpg` -> `Abdel_Nasser_Assidi`; `Dileep_107.jpg` -> `Dileep`."""
    name = Path(file_name).name
    return _PERSON.sub("", name)


def is_val_person(person: str, val_percent: int = 25) -> bool:
    """Deterministic by the name alone: sha256's first 8 bytes mod 100 < val_percent."""
    h = int.from_bytes(hashlib.sha256(person.encode("utf-8")).digest()[:8], "big")
    return h % 100 < val_percent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--real-photos", type=Path, required=True,
                   help="folder with labels.csv (file,emotion) and the images it names")
    p.add_argument("--out", type=Path, required=True, help=".npz to write (under train-runs/)")
    p.add_argument("--size", type=int, default=48, help="side of the stored crops")
    p.add_argument("--val-percent", type=int, default=25)
    p.add_argument("--pad", type=float, default=0.5,
                   help="border (fraction of the side) for the second try of an undetected photo")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    import cv2

    from moodpi.config import Config
    from moodpi.perception.classify.emotion import resize_face
    from moodpi.perception.crop import crop_face, select_faces
    from moodpi.perception.detect.faces import make_detector
    from moodpi.perception.pipeline import MIN_CROP_PX

    config = Config()
    faces_cfg = config.faces
    detector = make_detector(config)
    # a still photo goes through the detector's whole-image path, as `moodpi classify` and
    # `moodpi evaluate --photos` run it (the room detector only reports a streamed face once a
    # later frame confirms it)
    detect = getattr(detector, "scan", detector.detect)
    rows = list(csv.DictReader((a.real_photos / "labels.csv").open()))
    out: dict[str, list] = {k: [] for k in
                            ("images", "labels", "files", "persons", "split", "detected", "boxes")}
    t0 = time.monotonic()
    skipped = []
    for row in rows:
        path = a.real_photos / row["file"]
        label = row["emotion"].strip().lower()
        if label not in LABELS:
            skipped.append((row["file"], f"label {label!r}"))
            continue
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if grey is None:
            skipped.append((row["file"], "unreadable"))
            continue
        found = select_faces(detect(grey), faces_cfg.select)
        frame, offset = grey, 0
        if not found:
            # a face filling the photo: give it a border like a camera frame would have around it
            offset = round(max(grey.shape) * a.pad)
            frame = cv2.copyMakeBorder(grey, offset, offset, offset, offset,
                                       cv2.BORDER_CONSTANT, value=int(np.median(grey)))
            found = select_faces(detect(frame), faces_cfg.select)
        crop = None
        box = (-1, -1, -1, -1)
        if found:
            face = found[0]
            crop = crop_face(frame, face, faces_cfg.margin, faces_cfg.shift_up)
            if offset:  # keep only the part that lies in the photo itself
                h, w = grey.shape
                x0 = max(0, face.x - round(face.w * faces_cfg.margin))
                y0 = max(0, face.y - round(face.h * faces_cfg.shift_up)
                         - round(face.h * faces_cfg.margin))
                ys = slice(max(0, offset - y0), max(0, offset + h - y0))
                xs = slice(max(0, offset - x0), max(0, offset + w - x0))
                crop = crop[ys, xs]
            box = (face.x - offset, face.y - offset, face.w, face.h)
            if min(crop.shape) < MIN_CROP_PX:
                crop = None
        detected = crop is not None
        if crop is None:
            crop = grey
        person = person_of(row["file"])
        out["images"].append(resize_face(np.ascontiguousarray(crop), a.size))
        out["labels"].append(LABELS.index(label))
        out["files"].append(Path(row["file"]).name)
        out["persons"].append(person)
        out["split"].append("val" if is_val_person(person, a.val_percent) else "train")
        out["detected"].append(detected)
        out["boxes"].append(box)
    arrays = {
        "images": np.stack(out["images"]).astype(np.uint8),
        "labels": np.asarray(out["labels"], np.int64),
        "files": np.asarray(out["files"]),
        "persons": np.asarray(out["persons"]),
        "split": np.asarray(out["split"]),
        "detected": np.asarray(out["detected"], bool),
        "boxes": np.asarray(out["boxes"], np.int32),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(a.out, **arrays, val_percent=a.val_percent,
                        config=json.dumps({"margin": faces_cfg.margin,
                                           "shift_up": faces_cfg.shift_up,
                                           "min_score": faces_cfg.min_score,
                                           "min_size_px": faces_cfg.min_size_px}))
    report = {"photos": len(rows), "kept": len(arrays["labels"]), "skipped": skipped[:20],
              "n_skipped": len(skipped), "seconds": round(time.monotonic() - t0, 1)}
    for side in ("train", "val"):
        m = arrays["split"] == side
        report[side] = {
            "persons": len(set(arrays["persons"][m])), "photos": int(m.sum()),
            "detected": int(arrays["detected"][m].sum()),
            "per_class": np.bincount(arrays["labels"][m], minlength=len(LABELS)).tolist()}
    both = set(arrays["persons"][arrays["split"] == "train"]) & set(
        arrays["persons"][arrays["split"] == "val"])
    assert not both, both
    print(json.dumps(report, indent=1))
    share = float(arrays["detected"].mean())
    if share < MIN_DETECTED:  # a detector that sees nothing would train on whole photos silently
        print(f"prep_real_faces: the detector found a face in only {share:.1%} of the photos "
              f"(expected at least {MIN_DETECTED:.0%}): is faces.detector set up?", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
