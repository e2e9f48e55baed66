"""Issue 18's attack as a repeatable suite (`make attack`; marker `attack`): the real daemon as a
child process, a real Mosquitto with TLS (a throw-away CA made by openssl) and passwords.

Each test adds its figures to bench/attack.json (written at the end of the session by the
`attack_figures` fixture): exit statuses and times of hostile configs, seqs across kill -9,
journal loss and corruption, events published against events raised.
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.broker import Broker, BrokerFactory, Observer, TlsFiles
from tests.support.daemon import REPO, daemon_command, daemon_env
from tests.support.hostile_configs import HOSTILE

pytestmark = [pytest.mark.attack, pytest.mark.broker, pytest.mark.slow]

FIGURES: dict[str, Any] = {}
RESULTS = REPO / "bench" / "attack.json"


@pytest.fixture(scope="session", autouse=True)
def attack_figures() -> Any:
    yield FIGURES
    if FIGURES:  # merged: a run of some of the tests keeps the others' figures
        RESULTS.parent.mkdir(exist_ok=True)
        old = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
        RESULTS.write_text(json.dumps(old | FIGURES, indent=2, sort_keys=True) + "\n")


# ---------------------------------------------------------------------------------------------
# Hostile configs: exit 78 within 2 s, the key or file named, through the real `moodpi run`


def test_every_hostile_config_ends_in_78_within_2_s_naming_the_key(tmp_path: Path) -> None:
    rows = {}
    for i, (case, (make, named)) in enumerate(sorted(HOSTILE.items())):
        folder = tmp_path / f"case{i}"
        folder.mkdir()
        path = folder / "config.toml"
        state = f'state_dir = "{folder / "state"}"\n' * ("state_dir" not in case)
        path.write_text(state + make(folder))
        env = {k: v for k, v in daemon_env(folder).items() if k != "MOODPI__STATE_DIR"}
        started = time.monotonic()
        result = subprocess.run(
            daemon_command("run", "--config", str(path), "--no-audio"),
            env=env, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        took_s = time.monotonic() - started
        rows[case] = {"exit": result.returncode, "seconds": round(took_s, 2)}
        assert result.returncode == 78, (case, result.stderr)
        assert named in result.stderr, (case, result.stderr)
        assert took_s < 2.0, (case, took_s)
    FIGURES["hostile_configs"] = {
        "cases": len(rows),
        "all_exit_78": all(r["exit"] == 78 for r in rows.values()),
        "max_seconds": max(r["seconds"] for r in rows.values()),
        "each": rows,
    }


# ---------------------------------------------------------------------------------------------
# kill -9, journal deleted, journal corrupt: no seq reused, no event lost


def _config(tmp_path: Path, broker: Broker, tls: TlsFiles) -> Path:
    password = tmp_path / "password"
    password.write_text(f"{broker.password}\n")
    path = tmp_path / "config.toml"
    path.write_text(
        f'device_id = "attack"\nstate_dir = "{tmp_path / "state"}"\n'
        f'[mqtt]\nhost = "localhost"\nport = {broker.port}\nusername = "{broker.username}"\n'
        f'password_file = "{password}"\ntls_ca = "{tls.ca}"\nkeepalive = 5\n'
    )
    return path


def _events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _run_until(config: Path, replay: Path, jsonl: Path, tmp_path: Path, *, events: int) -> None:
    """Start the daemon, wait for `events` room events in its JSON lines, then kill -9 it."""
    proc = subprocess.Popen(
        daemon_command("run", "--config", str(config), "--no-audio", "--realtime", "--loop",
                       "--source", f"replay:{replay}", "--events-jsonl", str(jsonl)),
        env=daemon_env(tmp_path), cwd=REPO,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    before = len(_events(jsonl))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            room = [e for e in _events(jsonl)[before:] if e["type"] in ("mood", "presence")]
            if len(room) >= events:
                time.sleep(0.5)  # long enough for the broker's PUBACK of the last one
                break
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)


def test_kill_9_journal_loss_and_corruption_reuse_no_seq_and_lose_no_event(
    tmp_path: Path, broker_factory: BrokerFactory, tls_files: TlsFiles, e2e_replay: Path
) -> None:
    broker = broker_factory(users={"moodpi": "pw-attack"}, tls=tls_files)
    config = _config(tmp_path, broker, tls_files)
    jsonl = tmp_path / "events.jsonl"
    state = tmp_path / "state"
    replay = e2e_replay / "frames"
    with Observer(broker, ["moodpi/attack/event"]) as observer:
        _run_until(config, replay, jsonl, tmp_path, events=2)  # kill -9
        _run_until(config, replay, jsonl, tmp_path, events=2)  # restart after kill -9
        for part in state.glob("journal.sqlite3*"):
            part.unlink()
        _run_until(config, replay, jsonl, tmp_path, events=2)  # journal deleted
        journal = state / "journal.sqlite3"
        for wal in state.glob("journal.sqlite3-*"):  # a torn copy: the WAL would mask page 1
            wal.unlink()
        with open(journal, "r+b") as f:
            f.seek(0)
            f.write(b"\xa5" * 4096)  # the header page: "file is not a database"
        _run_until(config, replay, jsonl, tmp_path, events=2)  # journal corrupt
        raised = [e for e in _events(jsonl) if e["type"] in ("mood", "presence")]
        wanted = {(e["epoch"], e["seq"]) for e in raised}
        observer.wait_for(
            lambda ms: wanted <= {(json.loads(m.payload)["epoch"], json.loads(m.payload)["seq"])
                                  for m in ms},
            10.0,
        )  # fmt: skip
        seen = {(m.json()["epoch"], m.json()["seq"]) for m in observer.messages}  # type: ignore[index]
    every = _events(jsonl)
    seqs = [e["seq"] for e in every]
    pairs = [(e["epoch"], e["seq"]) for e in every]
    FIGURES["journal_loss"] = {
        "runs": 4,
        "events": len(every),
        "room_events": len(raised),
        "published_seen": len(wanted & seen),
        "lost": len(wanted - seen),
        "seq_reused": len(pairs) - len(set(pairs)),
        "seq_went_back": sum(b <= a for a, b in itertools.pairwise(seqs)),
        "epochs": len({e["epoch"] for e in every}),
        "corrupt_set_aside": len(list(state.glob("journal.sqlite3.corrupt-*"))),
    }
    assert len(pairs) == len(set(pairs)), "a seq was reused"
    assert seqs == sorted(seqs), "seq went back"
    assert wanted <= seen, f"lost on MQTT: {sorted(wanted - seen)}"
    assert list(state.glob("journal.sqlite3.corrupt-*")), "the corrupt journal was not set aside"


# ---------------------------------------------------------------------------------------------
# Read-only and full state dirs: the daemon runs on, a new epoch where numbering is unproven


def test_full_state_dir_keeps_the_daemon_running(tmp_path: Path, e2e_replay: Path) -> None:
    """RLIMIT_FSIZE stands in for a full disk: every write past 0 bytes fails with EFBIG."""
    state = tmp_path / "state"

    def limit_writes() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    result = subprocess.run(
        daemon_command("run", "--no-audio", "--source", f"replay:{e2e_replay / 'frames'}",
                       "--events-jsonl", "-"),
        env={**daemon_env(tmp_path), "MOODPI__STATE_DIR": str(state)},
        capture_output=True, text=True, timeout=120, cwd=REPO, preexec_fn=limit_writes,
    )  # fmt: skip
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    FIGURES["full_state_dir"] = {"exit": result.returncode, "events": len(events)}
    assert result.returncode == 0, result.stderr[-2000:]
    assert any(e["type"] == "mood" for e in events)


# ---------------------------------------------------------------------------------------------
# 10 MB payloads from anyone on the LAN: ignored, and the daemon's memory stays bounded

PAYLOAD_MB = 10
PEAK_RSS_LIMIT_MB = 150


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmHWM")


def test_10_mb_payloads_are_ignored_with_bounded_memory(
    tmp_path: Path, broker_factory: BrokerFactory, e2e_replay: Path
) -> None:
    broker = broker_factory()
    config = tmp_path / "config.toml"
    config.write_text(
        f'device_id = "attack"\nstate_dir = "{tmp_path / "state"}"\n'
        f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\n'
    )
    proc = subprocess.Popen(
        daemon_command("run", "--config", str(config), "--no-audio", "--realtime", "--loop",
                       "--source", f"replay:{e2e_replay / 'frames'}"),
        env=daemon_env(tmp_path), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = "moodpi/attack"
    try:
        with Observer(broker, [f"{base}/state"]) as observer:
            assert observer.wait_for(lambda ms: len(ms) >= 1, 30.0), "the daemon never came up"
            before = _peak_rss_mb(proc.pid)
            big = b"x" * (PAYLOAD_MB * 1024 * 1024)
            topics = ["volume", "policy", "detection", "skip", "nonsense", "quiet_hours"]
            for topic in topics:
                observer.publish(f"{base}/cmd/{topic}", big)
            time.sleep(1.5)  # commands are rate-limited: let the bucket refill
            observer.publish(f"{base}/cmd/detection", b"OFF")  # after the flood: still obeyed
            obeyed = observer.wait_for(
                lambda ms: any(json.loads(m.payload).get("detection") is False for m in ms), 15.0
            )
            peak = _peak_rss_mb(proc.pid)
            alive = proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(15)
    FIGURES["big_payloads"] = {
        "payloads": len(topics),
        "payload_mb": PAYLOAD_MB,
        "peak_rss_mb_before": round(before, 1),
        "peak_rss_mb_after": round(peak, 1),
        "valid_command_obeyed_after": obeyed,
        "exit": code,
    }
    assert alive and obeyed and code == 0
    assert peak <= PEAK_RSS_LIMIT_MB, f"peak RSS {peak:.0f} MB"


# ---------------------------------------------------------------------------------------------
# A broker that goes away every 2 s: every event still arrives, once each after dedup, in order

FLAP_EVERY_S = 2.0
FLAPS = 10


def test_a_flapping_broker_loses_no_event_and_keeps_order(
    tmp_path: Path, broker_factory: BrokerFactory, e2e_replay: Path
) -> None:
    from tests.e2e.test_daemon_mqtt import (
        BASE,
        jsonl_events,
        mqtt_seqs,
        start_daemon,
        stop_daemon,
        write_config,
    )

    broker = broker_factory()
    observer = Observer(broker, [f"{BASE}/event"], client_id="flap-watch", clean_session=False)
    observer.start()
    proc = start_daemon(
        tmp_path, write_config(tmp_path, broker), e2e_replay, "--realtime", "--loop"
    )
    try:
        deadline = time.monotonic() + 60
        while not mqtt_seqs(observer) and time.monotonic() < deadline:
            time.sleep(0.1)
        started = time.monotonic()
        for _ in range(FLAPS):  # down for a moment every 2 s, for 20 s
            time.sleep(FLAP_EVERY_S)
            broker.stop()
            broker.start()
            observer.wait_subscribed(10)
        flapped_s = time.monotonic() - started
        raised = [e["seq"] for e in jsonl_events(tmp_path)]

        def caught_up(_: object) -> bool:
            seen: list[int] = []
            for seq in mqtt_seqs(observer):
                if seq not in seen:
                    seen.append(seq)
            return seen[: len(raised)] == raised

        arrived = observer.wait_for(caught_up, 60)
    finally:
        code = stop_daemon(proc)
        observer.stop()
    FIGURES["broker_flapping"] = {
        "flaps": FLAPS,
        "seconds": round(flapped_s, 1),
        "events_raised": len(raised),
        "all_arrived_in_order": arrived,
        "exit": code,
    }
    assert arrived, (raised, mqtt_seqs(observer))
    assert code == 0 and len(raised) >= 3


# ---------------------------------------------------------------------------------------------
# Someone on the LAN connects with the daemon's client id: the broker drops the daemon, which
# comes back when the thief leaves, and no event is lost


def test_a_stolen_client_id_costs_no_event(
    tmp_path: Path, broker_factory: BrokerFactory, e2e_replay: Path
) -> None:
    from tests.e2e.test_daemon_mqtt import (
        BASE,
        DEVICE,
        jsonl_events,
        mqtt_seqs,
        start_daemon,
        stop_daemon,
        write_config,
    )

    broker = broker_factory()
    observer = Observer(broker, [f"{BASE}/event"], client_id="steal-watch", clean_session=False)
    observer.start()
    proc = start_daemon(
        tmp_path, write_config(tmp_path, broker), e2e_replay, "--realtime", "--loop"
    )
    try:
        deadline = time.monotonic() + 60
        while not mqtt_seqs(observer) and time.monotonic() < deadline:
            time.sleep(0.1)
        for _ in range(3):  # three thefts of a few seconds each
            thief = Observer(broker, [], client_id=f"moodpi-{DEVICE}")
            thief.start()
            time.sleep(3.0)
            thief.stop()
            time.sleep(2.0)
        raised = [e["seq"] for e in jsonl_events(tmp_path)]

        def caught_up(_: object) -> bool:
            seen: list[int] = []
            for seq in mqtt_seqs(observer):
                if seq not in seen:
                    seen.append(seq)
            return seen[: len(raised)] == raised

        arrived = observer.wait_for(caught_up, 60)
    finally:
        code = stop_daemon(proc)
        observer.stop()
    takeovers = broker.log_text().count("already connected, closing old connection")
    FIGURES["client_id_stolen"] = {
        "thefts": 3,
        "broker_takeovers_logged": takeovers,
        "events_raised": len(raised),
        "all_arrived_in_order": arrived,
        "exit": code,
    }
    assert takeovers >= 3, "the thief never took the daemon's session"
    assert arrived, (raised, mqtt_seqs(observer))
    assert code == 0


# ---------------------------------------------------------------------------------------------
# Huge frames in a replay: refused before decoding, the daemon's peak memory stays bounded


def test_huge_replay_frames_keep_peak_rss_bounded(tmp_path: Path, e2e_replay: Path) -> None:
    import shutil

    from tests.unit.test_hardening_replay import huge_png

    frames = tmp_path / "frames"
    shutil.copytree(e2e_replay / "frames", frames)
    names = sorted(p.name for p in frames.iterdir())
    for name in names[5:45:10]:  # four frames of the replay become 16000x16000 PNGs
        (frames / name).unlink()
        huge_png(frames / (Path(name).stem + ".png"))
    proc = subprocess.Popen(
        daemon_command("run", "--no-audio", "--source", f"replay:{frames}"),
        env=daemon_env(tmp_path), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    peak = 0.0
    while proc.poll() is None:
        try:
            peak = max(peak, _peak_rss_mb(proc.pid))
        except (OSError, AssertionError):
            break  # it has just exited
        time.sleep(0.05)
    _, stderr = proc.communicate(timeout=60)
    FIGURES["huge_frames"] = {"frames": 4, "side_px": 16000, "peak_rss_mb": round(peak, 1),
                              "exit": proc.returncode}  # fmt: skip
    assert proc.returncode == 0, stderr[-2000:]
    assert 0 < peak <= PEAK_RSS_LIMIT_MB, f"peak RSS {peak:.0f} MB"
