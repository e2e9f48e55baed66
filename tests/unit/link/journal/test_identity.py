"""Event identity beside the journal: an epoch that changes whenever continuity cannot be proven,
and a seq mark that a crash never takes back."""

from __future__ import annotations

import json
from pathlib import Path

from moodpi.link.journal.identity import FILE_NAME, Identity


def test_an_unwritable_identity_changes_epoch_before_handing_out_a_number(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    identity = Identity(blocker / FILE_NAME)  # its folder cannot exist: every write fails
    identity.open(floor=7)
    epoch = identity.epoch
    assert identity.next_seq() == 7
    assert identity.epoch != epoch  # the next start could not know how far this one counted


def test_identity_resumes_above_its_mark_after_a_crash(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    crashed = Identity(path, block=4)
    crashed.open()
    seqs = [crashed.next_seq() for _ in range(6)]  # killed here: nothing closed
    again = Identity(path, block=4)
    again.open()
    assert again.epoch == crashed.epoch and again.next_seq() > max(seqs)
    assert json.loads(path.read_text())["epoch"] == again.epoch
