"""What the daemon tells the outside world: the SQLite journal, the MQTT outbox and the MQTT link.

Events go to the journal first and, for mood and presence, to the outbox; the MQTT thread drains
the outbox in order and acknowledges only what the broker confirmed, so a broker outage or a
restart loses nothing. Without a journal (history disabled, or the state dir unusable) events are
still numbered and published, just not kept. Numbering (epoch and seq) is
moodpi.link.journal.identity's.
"""

from __future__ import annotations

import json
import logging
import queue
import time
from dataclasses import asdict
from typing import Any

from moodpi import __version__
from moodpi.config import Config
from moodpi.events import ROOM_EVENTS, Event, EventHub
from moodpi.link.journal.identity import FILE_NAME as IDENTITY_FILE
from moodpi.link.journal.identity import Identity
from moodpi.link.journal.store import Journal
from moodpi.link.payloads import state_payload
from moodpi.state import Snapshot

log = logging.getLogger(__name__)

DRAIN_ON_STOP_S = 2.0  # within the 5 s a SIGTERM may take


class Uplink:
    def __init__(self, config: Config, commands: queue.Queue[Any]) -> None:
        self._config = config
        self._commands = commands
        self.journal: Journal | None = None
        self.mqtt: Any = None
        self.identity = Identity(None)  # until start(): the one in the state dir
        self._last_state_json = ""
        self._last_diagnostics = 0.0

    def start(self) -> None:
        self._open_journal()
        # Beside the journal, not in it: losing the journal does not take numbering back.
        self.identity = Identity(self._config.state_path / IDENTITY_FILE)
        self.identity.open(floor=self.journal.seq_floor if self.journal is not None else 1)
        if self._config.mqtt.host:
            self._start_mqtt()

    def _open_journal(self) -> None:
        cfg = self._config
        if not cfg.history.enabled:
            return
        path = cfg.state_path / "journal.sqlite3"
        journal = Journal(
            path, retention_days=cfg.history.retention_days, outbox_max=cfg.history.outbox_max
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            journal.open()
        except Exception as exc:  # a broken disk must not stop the room's music
            log.error("journal unavailable at %s, running without history: %s", path, exc)
            return
        self.journal = journal

    def _start_mqtt(self) -> None:
        from moodpi.link.client import read_password
        from moodpi.link.mqtt import MqttLink

        cfg = self._config
        self.mqtt = MqttLink(
            cfg.mqtt,
            device_id=cfg.effective_device_id,
            device_name=cfg.device_name,
            version=__version__,
            outbox=self.journal,
            on_command=self._on_command,
            password=read_password(cfg.mqtt),
        )
        self.mqtt.start()

    def _on_command(self, command: Any) -> None:
        """Called on the MQTT thread: hand over to the main loop, never block the network."""
        try:
            self._commands.put_nowait(command)
        except queue.Full:
            log.warning("command queue full, dropping %s", command)

    def next_seq(self) -> int:
        return self.identity.next_seq()

    @property
    def epoch(self) -> str:
        return self.identity.epoch

    def attach(self, hub: EventHub) -> None:
        hub.add_sink("journal", self._journal_sink)
        if self.mqtt is not None:
            hub.add_sink("mqtt", self._mqtt_sink)

    def _journal_sink(self, event: Event) -> None:
        if self.journal is None:
            return
        data = event.as_dict()
        self.journal.record(data)
        if isinstance(event.payload, ROOM_EVENTS) and self.mqtt is not None:
            self.journal.enqueue(data)

    def _mqtt_sink(self, event: Event) -> None:
        if not isinstance(event.payload, ROOM_EVENTS):
            return
        if self.journal is None:
            self.mqtt.publish_event(event.as_dict())  # no outbox: best effort
        else:
            self.mqtt.events_pending()

    def publish_state(self, snapshot: Snapshot) -> None:
        if self.mqtt is None:
            return
        state = state_payload(snapshot)
        text = json.dumps(state, sort_keys=True)
        if text != self._last_state_json:
            self._last_state_json = text
            self.mqtt.publish_state(state)

    def tick(self, snapshot: Snapshot) -> None:
        """Called about once a second from the main loop."""
        if self.mqtt is None:
            return
        self.publish_state(snapshot)
        now = time.monotonic()
        if now - self._last_diagnostics >= self._config.mqtt.diagnostics_interval_s:
            self._last_diagnostics = now
            diagnostics = {**asdict(snapshot.diagnostics), "mqtt": self.mqtt.health()}
            self.mqtt.publish_diagnostics(diagnostics)

    def _drain_outbox(self, timeout_s: float) -> None:
        """Give the last events a moment to reach a connected broker; the rest stay journaled."""
        if self.journal is None:
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.mqtt.health().get("connected"):
            if not self.journal.pending(1):
                return
            time.sleep(0.05)

    def health(self) -> dict[str, Any]:
        health: dict[str, Any] = {"enabled": self.mqtt is not None}
        if self.mqtt is not None:
            health.update(self.mqtt.health())
        if self.journal is not None:
            health["journal_healthy"] = self.journal.healthy
        return health

    def stop(self) -> None:
        if self.mqtt is not None:
            self._drain_outbox(DRAIN_ON_STOP_S)
            self.mqtt.stop()
        if self.journal is not None:
            self.journal.close()
