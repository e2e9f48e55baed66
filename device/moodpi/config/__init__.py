"""One frozen, validated configuration tree, loaded from TOML (see schema.py for every key).

`load()` reads a file and the environment, `from_dict()` validates a tree; only ConfigError,
naming the dotted key, ever escapes either.
"""

from moodpi.config.files import check_files
from moodpi.config.loading import as_dict, from_dict, iter_fields, load
from moodpi.config.schema import (
    ENV_PREFIX,
    EX_CONFIG,
    MIRROR_MAP,
    REPO_ROOT,
    UPLIFT_MAP,
    AudioConfig,
    CameraConfig,
    Config,
    ConfigError,
    EmotionConfig,
    FacesConfig,
    HistoryConfig,
    MoodConfig,
    MqttConfig,
    MusicConfig,
    PrivacyConfig,
    default_models_dir,
    default_state_dir,
    doc,
)

__all__ = [
    "ENV_PREFIX",
    "EX_CONFIG",
    "MIRROR_MAP",
    "REPO_ROOT",
    "UPLIFT_MAP",
    "AudioConfig",
    "CameraConfig",
    "Config",
    "ConfigError",
    "EmotionConfig",
    "FacesConfig",
    "HistoryConfig",
    "MoodConfig",
    "MqttConfig",
    "MusicConfig",
    "PrivacyConfig",
    "as_dict",
    "check_files",
    "default_models_dir",
    "default_state_dir",
    "doc",
    "from_dict",
    "iter_fields",
    "load",
]
