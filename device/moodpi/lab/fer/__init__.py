"""FER-2013's faces and FER+'s ten votes per face, in the formats users have, lined up row by
row (faces.py, votes.py), and the scores of a model's readings against both (scores.py)."""

from __future__ import annotations


class DatasetError(Exception):
    """The dataset is missing, unreadable or empty (exit 66)."""


class VotesError(DatasetError):
    """The votes do not line up with the faces, or a row of them is malformed: nothing is scored.

    The message is one line that names the file and the row."""
