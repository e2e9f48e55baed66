"""The configuration's schema: every section and field, its default, doc and bounds.

Each field declares its doc and bounds beside it (`msgspec.Meta`, built by `doc()`); msgspec
validates against them when moodpi.config.loading builds a Config.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from moodpi.config.base import (
    EmotionMap,
    LogLevel,
    Text,
    default_models_dir,
    default_state_dir,
    doc,
)
from moodpi.types import EMOTIONS, DiscoveryMode, Emotion, Policy

# Default mood → category maps. `mirror` plays the mood's own category; `uplift` is the seed
# systems' music-therapy mapping.
MIRROR_MAP: dict[Emotion, str] = {e: e for e in EMOTIONS}
UPLIFT_MAP: dict[Emotion, str] = {
    "sad": "calming",
    "angry": "relaxing",
    "fear": "comforting",
    "disgust": "gentle",
    "surprise": "exciting",
    "happy": "upbeat",
    "neutral": "ambient",
}


class CameraConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    source: Annotated[
        Text,
        doc(
            "auto | picamera2 | v4l2:DEVICE | replay:PATH (video file or image folder)",
            path="replay:",
        ),
    ] = "auto"
    fps: Annotated[
        float, doc("frames per second asked of the camera, or replay rate", 0.5, 60.0)
    ] = 10.0
    # 1280x720: a face at 4 m is still about 37 px wide (66 degree lens) for the detector and
    # the classifier's crop; the Pi's ISP scales the sensor's full field of view down to it.
    width: Annotated[int, doc("capture width in pixels", 64, 4096)] = 1280
    height: Annotated[int, doc("capture height in pixels", 48, 4096)] = 720
    realtime: Annotated[
        bool, doc("replay at `fps` in real time instead of as fast as possible")
    ] = False
    loop: Annotated[bool, doc("replay: start again at the end instead of stopping")] = False
    timeout_s: Annotated[
        float, doc("longest wait for one frame before counting a failure", 0.1, 60.0)
    ] = 2.0
    lost_deadline_s: Annotated[
        float,
        doc(
            "camera failing this long makes the daemon exit non-zero (systemd restarts it)",
            1.0,
            86400.0,
        ),
    ] = 120.0
    hflip: Annotated[bool, doc("mirror frames horizontally")] = False
    resize: Annotated[
        bool, doc("replay: scale frames to width x height (default: their own size)")
    ] = False
    hfov_deg: Annotated[
        float,
        doc(
            "horizontal field of view of the lens in degrees, for face distances "
            "(Camera Module 3: 66, its wide lens: 102; Camera Module 2: 62)",
            10.0,
            170.0,
        ),
    ] = 66.0


class FacesConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    detector: Annotated[Literal["blazeface", "haar"], doc("face detector")] = "blazeface"
    model: Annotated[Text, doc("BlazeFace model file (relative: in the models dir)")] = (
        "face_detection_short_range.tflite"
    )
    haar_cascade: Annotated[
        Text,
        doc("Haar cascade XML (relative: in the models dir); empty: models dir, then OpenCV's own"),
    ] = ""
    min_score: Annotated[float, doc("minimum detector score", 0.05, 1.0)] = 0.6
    min_size_px: Annotated[
        int, doc("ignore faces smaller than this (box side, frame pixels)", 8, 2048)
    ] = 24
    reach_m: Annotated[
        float,
        doc(
            "find faces up to this far (m, from camera.width and hfov_deg): tracked faces plus "
            "a tile sweep; 0: one whole-frame pass (faces within about 1 m)",
            0.0,
            10.0,
        ),
    ] = 4.5
    tiles_per_frame: Annotated[
        int, doc("sweep tiles looked at per frame (each about two 128x128 detector passes)", 1, 16)
    ] = 1
    verify_model: Annotated[
        Text,
        doc(
            "face landmark model that takes a second look at each new box (relative: in the "
            "models dir); empty: every box the detector finds is a face"
        ),
    ] = "face_landmark.tflite"
    # 0.4: among 720 cluttered rooms of the distance bench (lfw people at 1-4 m, 8 items of
    # clutter each) 3 false faces in the stills score 0.4 or more, 7 score 0.2 or more; on 597
    # PublicTest faces composed into frames the look keeps 96 % of what the detector found
    verify_min_score: Annotated[
        float, doc("face presence the second look must see", 0.05, 0.99)
    ] = 0.4
    select: Annotated[Literal["largest", "all"], doc("which faces to classify")] = "largest"
    equalize: Annotated[
        Literal["none", "hist", "clahe", "stretch"], doc("lighting normalisation of the face crop")
    ] = "none"
    margin: Annotated[
        float, doc("extra margin around the detected box, as a fraction of its size", 0.0, 1.0)
    ] = 0.1
    shift_up: Annotated[
        float,
        doc(
            "move the crop up by this fraction of the box height (FER faces show the forehead)",
            -0.5,
            0.5,
        ),
    ] = 0.05


class EmotionConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # flip_average must match the mode the model's temperature was fitted in: its .json sidecar
    # says which, and the classifier and `moodpi doctor` warn on a mismatch (models/MODEL_CARD_*).
    model: Annotated[Text, doc("emotion classifier (relative: in the models dir)")] = (
        "emotion_v14_int8.tflite"
    )
    flip_average: Annotated[
        bool, doc("average predictions of the face and its mirror image (twice the cost)")
    ] = False
    num_threads: Annotated[int, doc("TFLite interpreter threads", 1, 8)] = 1


class MoodConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # The defaults come from a grid scored like `moodpi bench --mood` on labelled replays and
    # checked on replays left out of it (`make mood-grid`): change them with a new run, not by hand.
    smoothing_s: Annotated[
        float, doc("time constant of the exponential smoothing of probabilities", 0.0, 60.0)
    ] = 1.0
    threshold: Annotated[
        float, doc("smoothed probability a mood needs to be accepted", 0.0, 1.0)
    ] = 0.3
    switch_margin: Annotated[
        float,
        doc("a new mood must beat the current one's smoothed probability by this much", 0.0, 1.0),
    ] = 0.4
    min_dwell_s: Annotated[
        float, doc("a candidate mood must lead this long before it is published", 0.0, 600.0)
    ] = 0.2
    min_interval_s: Annotated[
        float, doc("minimum time between two published mood changes", 0.0, 3600.0)
    ] = 3.0
    absent_after_s: Annotated[
        float, doc("no face for this long turns presence off", 0.1, 3600.0)
    ] = 5.0
    faces: Annotated[
        Literal["largest", "group"],
        doc("several faces: the largest votes, or all weighted by area"),
    ] = "largest"


class MusicConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    root: Annotated[
        Text,
        doc(
            "music folder, any layout (flat, Artist/Album/...); a sub-folder named after a category"
            " the policies use (sad, calming, ...) is that category; empty: off",
            path="",
        ),
    ] = ""
    playlists: Annotated[
        Text,
        doc(
            "folder of .m3u playlists, used instead of music.root when set; a playlist named"
            " after a category (calming.m3u) is that category",
            path="",
        ),
    ] = ""
    policy: Annotated[Policy, doc("mood → music policy")] = "mirror"
    iso_steps: Annotated[
        int, doc("iso policy: tracks taken to step from the mood's music to the target", 1, 20)
    ] = 3
    mirror_map: Annotated[EmotionMap, doc("mirror policy: emotion → category")] = msgspec.field(
        default_factory=lambda: dict(MIRROR_MAP)
    )
    uplift_map: Annotated[EmotionMap, doc("uplift/iso policy: emotion → target category")] = (
        msgspec.field(default_factory=lambda: dict(UPLIFT_MAP))
    )
    on_change: Annotated[
        Literal["fade", "finish"], doc("on a mood change: fade across, or finish the current track")
    ] = "fade"
    fade_ms: Annotated[int, doc("fade length in milliseconds", 0, 30000)] = 2000
    grace_s: Annotated[
        float,
        doc(
            "a track that ends while a new mood is about to be published waits this long at"
            " most, so the next one is picked by the new mood; 0: pick at once",
            0.0,
            30.0,
        ),
    ] = 2.0
    volume: Annotated[float, doc("initial volume", 0.0, 1.0)] = 0.8
    level_loudness: Annotated[
        bool, doc("level tracks' loudness (ReplayGain tags, else measured) by attenuation")
    ] = True
    loudness_target_lufs: Annotated[
        float, doc("levelling: louder tracks play down to this loudness", -40.0, -6.0)
    ] = -20.0
    pause_after_absent_s: Annotated[
        float, doc("fade out and pause when nobody was seen this long", 0.0, 86400.0)
    ] = 30.0
    analysis: Annotated[
        bool, doc("place each track by its audio (a niced process of its own, cached)")
    ] = True
    rescan_interval_s: Annotated[
        float, doc("look for new or changed music files this often", 10.0, 86400.0)
    ] = 300.0


class AudioConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    output: Annotated[
        Literal["auto", "none"],
        doc(
            "auto: the sound card SDL finds (SDL_AUDIODRIVER, AUDIODEV); none: a box without a "
            "speaker, no sound card is opened (tracks are still chosen, reported and journaled)"
        ),
    ] = "auto"


class HistoryConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    enabled: Annotated[
        bool, doc("keep a SQLite journal of moods, presence and plays in the state dir")
    ] = True
    retention_days: Annotated[int, doc("delete journal rows older than this", 1, 3650)] = 90
    outbox_max: Annotated[
        int, doc("undelivered MQTT events kept at most (oldest dropped first)", 10, 1000000)
    ] = 10000


class MqttConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    host: Annotated[Text, doc("broker host; empty: MQTT off")] = ""
    port: Annotated[int, doc("broker port", 1, 65535)] = 1883
    username: Annotated[
        Text, doc("username; the password comes from password_file or $MOODPI_MQTT_PASSWORD")
    ] = ""
    password_file: Annotated[Text, doc("file holding the password (never logged)", path="")] = ""
    tls_ca: Annotated[Text, doc("CA certificate file; set to use TLS", path="")] = ""
    tls_cert: Annotated[Text, doc("client certificate file (mutual TLS)", path="")] = ""
    tls_key: Annotated[Text, doc("client key file (mutual TLS)", path="")] = ""
    client_id: Annotated[Text, doc("MQTT client id; empty: moodpi-<device_id>")] = ""
    base_topic: Annotated[Text, doc("topic prefix; empty: moodpi/<device_id>")] = ""
    discovery_prefix: Annotated[Text, doc("Home Assistant discovery prefix")] = "homeassistant"
    discovery: Annotated[
        DiscoveryMode, doc("discovery topics: one per entity, or one device config (HA >= 2024.12)")
    ] = "component"
    qos: Annotated[int, doc("QoS of events and state", 0, 2)] = 1
    keepalive: Annotated[int, doc("keepalive in seconds", 5, 3600)] = 60
    diagnostics_interval_s: Annotated[
        float, doc("period of the retained diagnostics message", 5.0, 86400.0)
    ] = 60.0


# "HH:MM-HH:MM", local time; a span may wrap past midnight ("22:00-07:00").
QUIET_SPAN_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$"
QuietSpan = Annotated[str, msgspec.Meta(pattern=QUIET_SPAN_PATTERN)]


class PrivacyConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    quiet_hours: Annotated[
        list[QuietSpan],
        doc('local times the camera stays released, e.g. ["22:00-07:00"]; equal ends: all day'),
        msgspec.Meta(max_length=24),
    ] = msgspec.field(default_factory=list)
    quiet_hours_enabled: Annotated[
        bool, doc("quiet hours apply at start (Home Assistant's Quiet hours switch turns them)")
    ] = True
    led: Annotated[
        Literal["off", "act", "gpio", "sysfs"],
        doc("LED lit while the camera is open: board activity LED, GPIO pin, or a sysfs LED"),
    ] = "off"
    led_gpio_pin: Annotated[int, doc("led = gpio: the pin (BCM numbering)", 0, 27)] = 17
    led_sysfs_path: Annotated[
        Text, doc("led = sysfs: the LED's directory, e.g. /sys/class/leds/PWR", path="")
    ] = ""


class Config(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    device_id: Annotated[
        Text, doc("stable id used in topics and unique_ids; empty: derived from the hostname")
    ] = ""
    device_name: Annotated[Text, doc("name shown in Home Assistant")] = "moodpi"
    state_dir: Annotated[
        Text,
        doc("journal and status files; empty: $STATE_DIRECTORY or ~/.local/state/moodpi", path=""),
    ] = ""
    models_dir: Annotated[
        Text, doc("where relative model paths are found; empty: the bundled models", path="")
    ] = ""
    log_level: Annotated[LogLevel, doc("log level")] = "info"
    camera: CameraConfig = msgspec.field(default_factory=CameraConfig)
    faces: FacesConfig = msgspec.field(default_factory=FacesConfig)
    emotion: EmotionConfig = msgspec.field(default_factory=EmotionConfig)
    mood: MoodConfig = msgspec.field(default_factory=MoodConfig)
    music: MusicConfig = msgspec.field(default_factory=MusicConfig)
    audio: AudioConfig = msgspec.field(default_factory=AudioConfig)
    history: HistoryConfig = msgspec.field(default_factory=HistoryConfig)
    mqtt: MqttConfig = msgspec.field(default_factory=MqttConfig)
    privacy: PrivacyConfig = msgspec.field(default_factory=PrivacyConfig)

    # Derived values, computed from the fields above.
    @property
    def effective_device_id(self) -> str:
        return self.device_id or _slug(socket.gethostname()) or "moodpi"

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir) if self.state_dir else default_state_dir()

    def model_path(self, name: str) -> Path:
        path = Path(name)
        if path.is_absolute():
            return path
        return (Path(self.models_dir) if self.models_dir else default_models_dir()) / path


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")
