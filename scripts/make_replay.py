#!/usr/bin/env python3
"""Build a labelled replay for `moodpi bench --mood`: FER-2013 faces placed into 640x480 frames.

Segments of 5-15 s each show a sequence of different faces of one emotion (or, a few of them,
an empty room); consecutive segments never share an emotion, so every face segment is a true
mood change. Writes OUT/frames/000000.jpg... and OUT/truth.json (see moodpi.replaygen).

The faces are those ten people clearly agree on: where FER+'s votes lie beside the faces
(../shared/data/ferplus/<the npz's name>, or --votes), only faces whose clear FER+ majority
names an emotion, labelled by it; truth.json's `faces` says which labels a replay uses. FER-2013's
own labels (every face, one tagger's quick pass) only with --original-labels or without votes.

The room holds --clutter items that are not faces but look a little like one (badges, channel
logos, lamps, cloth, shelves, face-free photographs: moodpi.lab.scene), still on the walls around
where the person sits, as a logo on a wall is still as a seated person (issue 28).

    .venv/bin/python scripts/make_replay.py --segments 20 --fps 10 --out build/replay-mood
    .venv/bin/python -m moodpi bench --mood build/replay-mood
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from moodpi.lab.fer import VotesError
from moodpi.lab.replaygen import face_zone, load_faces_npz, make_background, make_labelled_replay
from moodpi.lab.scene import add_clutter
from moodpi.types import EMOTIONS

REPO = Path(__file__).resolve().parents[1]


DEFAULT_NPZ = REPO.parent / "shared" / "data" / "fer2013" / "public_test.npz"
# The five emotions the classifier separates well (disgust and fear are mostly confused).
DEFAULT_EMOTIONS = ("happy", "surprise", "neutral", "sad", "angry")
EMPTY_FRACTION = 0.15  # share of segments that show an empty room
SIZE = (640, 480)
CLUTTER_LARGEST_PX = 90  # items fit the margins a person at arm's length leaves free

log = logging.getLogger("make_replay")


def plan_segments(
    emotions: list[str], count: int, rng: np.random.Generator, *, min_s: float, max_s: float
) -> list[tuple[str | None, float]]:
    """(emotion or None, seconds) for `count` segments: emotions evenly used, no two in a row.

    Durations are whole tenths of a second, so segment bounds fall on frames at common rates.
    The first segment always has a face, and an empty room is never followed by another.
    """
    empty = set()
    if count >= 3:
        n_empty = max(1, round(count * EMPTY_FRACTION))
        empty = {int(i) for i in rng.choice(np.arange(1, count), size=n_empty, replace=False)}
    plan: list[tuple[str | None, float]] = []
    bag: list[str] = []
    previous: str | None = None
    for i in range(count):
        duration_s = round(float(rng.uniform(min_s, max_s)), 1)
        if i in empty and plan and plan[-1][0] is not None:
            plan.append((None, duration_s))
            continue
        if not bag:
            bag = [str(e) for e in rng.permutation(emotions)]
        pick = next((e for e in bag if e != previous), bag[0])
        bag.remove(pick)
        plan.append((pick, duration_s))
        previous = pick
    return plan


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path, help="output folder (frames/ and truth.json)")
    p.add_argument("--npz", type=Path, default=DEFAULT_NPZ, help=f"faces (default: {DEFAULT_NPZ})")
    p.add_argument(
        "--votes",
        type=Path,
        help="FER+'s votes for --npz's faces, row by row (default: ferplus/<npz name> beside "
        "the npz's folder, when there)",
    )
    p.add_argument(
        "--original-labels",
        action="store_true",
        help="every face under FER-2013's own label, not FER+'s clear majority",
    )
    p.add_argument(
        "--emotions",
        default=",".join(DEFAULT_EMOTIONS),
        help="comma-separated emotions to use (default: %(default)s)",
    )
    p.add_argument("--segments", type=int, default=20, help="number of segments (default: 20)")
    p.add_argument("--fps", type=float, default=10.0, help="frames per second (default: 10)")
    p.add_argument("--min-s", type=float, default=5.0, help="shortest segment (default: 5 s)")
    p.add_argument("--max-s", type=float, default=15.0, help="longest segment (default: 15 s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--clutter",
        type=int,
        default=12,
        help="items of clutter in the room, 0 for a bare one (default: %(default)s)",
    )
    p.add_argument("--force", action="store_true", help="replace a replay already in --out")
    args = p.parse_args(argv)
    args.emotions = [e.strip() for e in args.emotions.split(",") if e.strip()]
    unknown = [e for e in args.emotions if e not in EMOTIONS]
    if unknown or len(args.emotions) < 2:
        p.error(f"--emotions needs at least two of {', '.join(EMOTIONS)}; got {args.emotions}")
    if args.clutter < 0:
        p.error("--clutter must be 0 or more")
    if args.segments < 1 or not 0 < args.fps <= 60 or not 0 < args.min_s <= args.max_s:
        p.error("need --segments >= 1, 0 < --fps <= 60 and 0 < --min-s <= --max-s")
    return args


def clear_old_replay(out: Path, force: bool) -> bool:
    """Old frames left behind would play on after the new ones: refuse, or remove them (--force)."""
    old = [*out.glob("frames/*.jpg"), *out.glob("truth.json")]
    if old and not force:
        log.error("%s already holds a replay (%d files); use --force to replace it", out, len(old))
        return False
    for path in old:
        path.unlink()
    return True


def votes_for(npz: Path, votes: Path | None, original: bool) -> Path | None:
    """The votes to label by: --votes, else FER+'s file of the same name beside the faces'."""
    if original:
        return None
    beside = npz.parent.parent / "ferplus" / npz.name
    return votes or (beside if beside.is_file() else None)


def cluttered_room(seed: int, items: int) -> np.ndarray:
    """make_labelled_replay's own room for `seed`, with `items` of clutter around the faces."""
    room = make_background(SIZE, np.random.default_rng(seed))
    add_clutter(
        room, np.random.default_rng([seed, 1]), items, [face_zone(SIZE)], CLUTTER_LARGEST_PX
    )
    return room


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    votes = votes_for(args.npz, args.votes, args.original_labels)
    for path, what in ((args.npz, "FER-2013 public_test.npz; see --npz"), (votes, "--votes")):
        if path is not None and not path.is_file():
            log.error("not found: %s (%s)", path, what)
            return 66
    if not clear_old_replay(args.out, args.force):
        return 73  # EX_CANTCREAT
    try:
        faces = load_faces_npz(args.npz, votes=votes)
    except VotesError as exc:
        log.error("%s", exc)
        return 66
    labels = "ferplus_majority" if votes else "original"
    log.info("faces: %s, labelled by %s%s", args.npz, labels, f" ({votes})" if votes else "")
    rng = np.random.default_rng(args.seed)
    plan = plan_segments(args.emotions, args.segments, rng, min_s=args.min_s, max_s=args.max_s)
    source = {"npz": str(args.npz), "labels": labels, "votes": str(votes) if votes else None}
    make_labelled_replay(
        faces,
        args.out,
        fps=args.fps,
        segments=plan,
        seed=args.seed,
        size=SIZE,
        faces=source,
        room=cluttered_room(args.seed, args.clutter),
        scene={"clutter_items": args.clutter},
    )
    total_s = sum(d for _, d in plan)
    counts = {e: sum(1 for p, _ in plan if p == e) for e in args.emotions}
    log.info(
        "%d segments, %.0f s at %g fps (%s; empty room %d)",
        len(plan),
        total_s,
        args.fps,
        ", ".join(f"{e} {n}" for e, n in counts.items()),
        sum(1 for p, _ in plan if p is None),
    )
    log.info("score it with: .venv/bin/python -m moodpi bench --mood %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
