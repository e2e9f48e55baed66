"""DecodedFile, the in-memory WAV file pygame's mixer reads AAC through: a header of the right
length, the PCM PyAV decodes, a decoder paced by what was played that gives back what was heard,
and damage."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from moodpi.music import decoded
from moodpi.music.decoded import DecodedFile, DecodeError
from tests.support.audio_files import write_tone

BYTES_PER_S = 44100 * 4


@pytest.fixture(scope="module")
def m4a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tone(tmp_path_factory.mktemp("m4a") / "a.m4a", 441.0, seconds=4.0)


def test_reads_as_a_wav_file_of_the_decoded_tone(m4a: Path):
    track = DecodedFile(m4a)
    try:
        assert track.wait(10.0)
        with wave.open(track.path) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 44100)
            assert wav.getnframes() / 44100 == pytest.approx(4.0, abs=0.05)  # AAC pads a frame
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, 2)
    finally:
        track.close()
    assert len(pcm) / 44100 == pytest.approx(4.0, abs=0.05)
    middle = pcm[44100:132300, 0].astype(np.float64)
    peak_hz = np.argmax(np.abs(np.fft.rfft(middle))) * 44100 / len(middle)
    assert peak_hz == pytest.approx(441.0, abs=1)
    rms = np.sqrt(np.mean((middle / 32768) ** 2))
    assert rms == pytest.approx(10 ** (-12 / 20) / 2**0.5, rel=0.05)  # the tone's -12 dBFS peak


def test_decodes_ahead_of_what_was_played_and_gives_back_what_was_heard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    long = write_tone(tmp_path / "long.m4a", 441.0, seconds=40.0)
    monkeypatch.setattr(decoded, "AHEAD_S", 8.0)
    monkeypatch.setattr(decoded, "BEHIND_S", 2.0)
    track = DecodedFile(long)
    try:

        def written_s() -> float:
            return (Path(track.path).stat().st_size - 44) / BYTES_PER_S

        def held_s() -> float:  # what the memory file really holds: holes take no blocks
            return Path(track.path).stat().st_blocks * 512 / BYTES_PER_S

        _settle(lambda: written_s() >= 8.0)
        assert 8.0 <= written_s() < 9.0  # paced: nothing played yet, 8 s ahead
        track.played(20.0)
        _settle(lambda: written_s() >= 28.0)
        assert 28.0 <= written_s() < 29.0
        assert held_s() < 12.0  # 18 s heard and given back: 2 s behind, 8 s ahead kept
    finally:
        track.close()


def _settle(done, timeout_s: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "the decoder did not get there"
        time.sleep(0.01)
    time.sleep(0.2)  # and it stops there


def test_damage_is_a_decode_error_or_an_early_end(tmp_path: Path, m4a: Path):
    garbage = tmp_path / "garbage.m4a"
    garbage.write_bytes(b"\0\0\0\x20ftypM4A " + bytes(2000))
    with pytest.raises(DecodeError):
        DecodedFile(garbage)
    cut_m4a = tmp_path / "cut.m4a"  # its index (moov) comes last: cut, nothing can be decoded
    cut_m4a.write_bytes(m4a.read_bytes()[:-3000])
    with pytest.raises(DecodeError):
        DecodedFile(cut_m4a)
    adts = write_tone(tmp_path / "whole.aac", 441.0, seconds=4.0)
    cut = tmp_path / "cut.aac"  # raw AAC cut in the middle of a frame
    cut.write_bytes(adts.read_bytes()[: adts.stat().st_size // 2 + 7])
    track = DecodedFile(cut, length_hint_s=4.0)
    try:
        assert track.wait(10.0)  # what decoded, then the end, never an exception
        decoded_s = (Path(track.path).stat().st_size - 44) / BYTES_PER_S
    finally:
        track.close()
    assert 1.5 < decoded_s < 2.5
