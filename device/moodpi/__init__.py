"""moodpi: on-device facial emotion recognition answered with local music and MQTT mood events."""

__version__ = "0.1.0"
