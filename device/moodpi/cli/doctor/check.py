"""What every doctor check returns: one Check, ok, warn, fail or skip, with a hint.

The rule of the room: a check never raises for what it finds, it returns one Check with a hint
a person on an SSH session can act on; and a device the running daemon holds (the camera, the
audio output) is never opened, it is judged by what the daemon's status file says.
"""

from __future__ import annotations

from dataclasses import dataclass

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"


@dataclass(frozen=True)
class Check:
    name: str
    level: str
    detail: str
    hint: str = ""

    def line(self) -> str:
        text = f"{self.level:<5} {self.name:<8} {self.detail}"
        if self.hint and self.level in (WARN, FAIL):
            text += f"\n{'':14}hint: {self.hint}"
        return text
