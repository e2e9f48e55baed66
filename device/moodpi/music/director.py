"""What to play and when: mood, presence and track ends in, player actions out.

Pure logic, no pygame, no clock of its own: every input carries `now` (seconds on the daemon's
clock) and every output is a list of small frozen actions for the player
(`moodpi.music.actions.apply` carries them out). Not thread-safe: the daemon calls it from its
main loop only, and hands player events over to it from there (the player thread puts them on a
queue).

Transition rules (config `music`):
- first mood: play the policy's first target (a category, or a point on the valence-arousal
  plane where the library has no such category: moodpi.music.policy), fading in over `fade_ms`;
- mood change, `on_change = "fade"`: fade across within `fade_ms` (see `Play`); `"finish"`: the
  current track plays to its end and the next one comes from the new mood's plan; a change
  whose first category is the one already playing keeps the track either way;
- presence off for `pause_after_absent_s`: fade out and pause (the position is kept); presence
  back: resume with a fade-in, or start the new mood's music if the mood changed meanwhile;
- track ended (or skipped): the next track of the plan, each step of an iso plan once;
- the library back (`recovered`, component "music": a disk mounted late): silence ends;
- grace: a track that ends naturally while the mood tracker is about to publish a new mood
  (`tick`'s `pending`) leaves the music silent for at most `grace_s`, so the next track is
  picked by the new mood rather than by the one that is just ending; a track that ends after a
  change is always picked by the new mood (the change replans at once).

`preview` is the daemon's own choice, for commands that ask what it would play (classify).
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

from moodpi.config import MusicConfig
from moodpi.events import PlayerEvent, Recovered, TrackEnded, TrackSkipped
from moodpi.music.actions import Action, Pause, Play, Resume
from moodpi.music.policy import Target, TrackPicker, targets
from moodpi.music.track import Track, TrackSource
from moodpi.types import Emotion, MoodChange, Policy, as_policy

log = logging.getLogger(__name__)


class MusicDirector:
    def __init__(
        self,
        config: MusicConfig,
        library: TrackSource,
        picker: TrackPicker | None = None,
        rng: random.Random | None = None,
        *,
        policy: str | None = None,
    ) -> None:
        self.config = config
        self.picker = picker or TrackPicker(library, rng)
        self.policy: Policy = as_policy(policy or config.policy)
        self.emotion: Emotion | None = None
        self.current: Track | None = None  # what the player was last told to play
        self.paused = False
        self.present = True
        self._plan: tuple[Target, ...] = ()
        self._step = 0  # index in the plan of the next track to start
        self._absent_since: float | None = None
        self._replan_on_resume = False
        self._pending: Emotion | None = None  # the mood about to be published (tick)
        self._held_since: float | None = None  # a natural track end waiting for it

    # -- inputs -------------------------------------------------------------------------------

    def on_mood(self, change: MoodChange, now: float) -> list[Action]:
        self.emotion = change.emotion
        self._pending = None
        self._replan()
        if self.paused:  # nobody to play to; resuming starts the new mood's music
            self._replan_on_resume = True
            return []
        return self._transition()

    def on_presence(self, present: bool, now: float) -> list[Action]:
        self.present = present
        if not present:
            self._absent_since = now
            return self._pause_if_absent(now)  # pause_after_absent_s may be 0
        self._absent_since = None
        if not self.paused:
            return []
        self.paused = False
        if self._replan_on_resume or self.current is None:
            self._replan_on_resume = False
            return self._play_next(fade_in_ms=self.config.fade_ms)
        return [Resume(self.config.fade_ms)]

    def tick(self, now: float, pending: Emotion | None = None) -> list[Action]:
        """Time passes. `pending`: the mood the tracker is about to publish (its candidate),
        None when nothing is about to change."""
        self._pending = None if pending == self.emotion else pending
        held = self._held_since
        if held is not None and (self._pending is None or now - held >= self.config.grace_s):
            self._held_since = None  # the change did not come: the mood in force picks
            if not self.paused and self.current is None and self.emotion is not None:
                return self._play_next()
        return self._pause_if_absent(now)

    def _pause_if_absent(self, now: float) -> list[Action]:
        if self.present or self.paused or self.current is None or self._absent_since is None:
            return []
        if now - self._absent_since < self.config.pause_after_absent_s:
            return []
        self.paused = True
        log.info("nobody here for %.0f s: pausing the music", now - self._absent_since)
        return [Pause(self.config.fade_ms)]

    def on_track_ended(
        self, now: float, path: Path | str | None = None, *, natural: bool = True
    ) -> list[Action]:
        """The current track is over (`natural`: it played to its end; else skipped). A `path`
        that is not the current track is stale: ignored."""
        if path is not None and (self.current is None or Path(path) != self.current.path):
            return []
        self.current = None
        if self.paused or self.emotion is None:
            return []
        if natural and self._pending is not None and self.config.grace_s > 0:
            self._held_since = now  # a new mood is about to come: let it pick (tick, on_mood)
            log.info("track ended while the mood turns %s: waiting for it", self._pending)
            return []
        return self._play_next()

    def on_player_event(self, event: PlayerEvent, now: float) -> list[Action]:
        """A player event: natural ends and skips advance; a file that failed is not tried again."""
        if isinstance(event, TrackEnded) and event.reason == "finished":
            return self.on_track_ended(now, event.track.path)
        if isinstance(event, TrackSkipped):
            if event.track.path and event.reason != "user":
                self.picker.exclude(event.track.path)
            return self.on_track_ended(now, event.track.path, natural=False)
        if isinstance(event, Recovered) and event.component == "music":
            return self.on_library_back(now)
        return []

    def on_library_back(self, now: float) -> list[Action]:
        """The library has music again (a disk mounted late): the mood in force is not kept
        waiting for its next change in silence."""
        if self.current is not None or self.paused or self.emotion is None:
            return []
        return self._play_next(fade_in_ms=self.config.fade_ms)

    def set_policy(self, name: str) -> list[Action]:
        """Switch policy at run time; applied like a mood change (fade or finish)."""
        policy = as_policy(name)
        if policy == self.policy:
            return []
        self.policy = policy
        log.info("music policy: %s", name)
        if self.emotion is None:
            return []
        self._replan()
        if self.paused:
            self._replan_on_resume = True
            return []
        return self._transition()

    # -- decisions ----------------------------------------------------------------------------

    def _replan(self) -> None:
        assert self.emotion is not None
        self._plan = targets(self.policy, self.emotion, self.config)
        self._step = 0

    def _transition(self) -> list[Action]:
        if self.current is None:
            return self._play_next(fade_in_ms=self.config.fade_ms)
        if self.picker.fits(self.current, self._plan[0]):
            self._step = 1  # the music already fits: keep it, it counts as the plan's first track
            return []
        if self.config.on_change == "finish":
            return []  # on_track_ended takes the next track from the new plan
        fade_in_ms = self.config.fade_ms // 2
        return self._play_next(fade_in_ms=fade_in_ms, crossfade_ms=self.config.fade_ms - fade_in_ms)

    def _play_next(self, fade_in_ms: int = 0, crossfade_ms: int = 0) -> list[Action]:
        target = self._plan[min(self._step, len(self._plan) - 1)]
        track = self.picker.pick_target(target)
        if track is None:  # empty library; the picker has said so
            return []
        self._step += 1
        self.current = track
        self._held_since = None
        return [Play(track, fade_in_ms, crossfade_ms)]


def preview(
    config: MusicConfig,
    library: TrackSource,
    policy: Policy,
    emotion: Emotion,
    count: int,
    rng: random.Random | None = None,
) -> list[Track]:
    """The first `count` tracks the daemon would play after a change to `emotion`: a director of
    its own, told of the mood and then of each track's natural end, as the daemon's is."""
    director = MusicDirector(config, library, rng=rng, policy=policy)
    actions = director.on_mood(MoodChange(emotion, 1.0, 0.0), 0.0)
    tracks: list[Track] = []
    while len(tracks) < count:
        played = [action.track for action in actions if isinstance(action, Play)]
        if not played:  # an empty library; the picker has said so
            break
        tracks.extend(played)
        actions = director.on_track_ended(float(len(tracks)), played[-1].path)
    return tracks[:count]
