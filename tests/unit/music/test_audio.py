"""The audio output: without a device, retried with a doubling backoff."""

from __future__ import annotations

from tests.support.clock import FakeClock


def test_audio_output_retries_with_doubling_backoff(monkeypatch):
    from moodpi.music.audio import AudioOutput

    monkeypatch.setenv("SDL_AUDIODRIVER", "no_such_driver")
    clock = FakeClock(100.0)
    out = AudioOutput((44100, -16, 2, 1024), reopen_s=(2.0, 10.0), clock=clock)
    assert out.open().startswith("no audio device")
    assert not out.backend.audio
    tries = []
    for _ in range(80):  # 40 s in 0.5 s steps (exact in binary); a try only when one is due
        clock.now += 0.5
        before = out._retry_at
        assert out.reopen() is False
        if out._retry_at != before:
            tries.append(clock.now - 100.0)
    assert tries == [2.0, 6.0, 14.0, 24.0, 34.0]  # after 2, 4, 8, then capped at 10 s
    off = AudioOutput((44100, -16, 2, 1024), want_audio=False)
    assert off.open() == "" and off.reopen() is False and not off.backend.audio
