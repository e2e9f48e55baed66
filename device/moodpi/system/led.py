"""The optional status LED that is lit while the camera is open (`privacy.led`).

Three kinds behind one small interface: a sysfs LED (`act`: the board's activity LED, or any
`/sys/class/leds/NAME` directory; tests use a plain folder), a GPIO pin through gpiozero (or
lgpio) when installed, and none. An LED is a courtesy, never a reason to stop: a failure is
logged once, the LED is then left alone and `problem` says why for `moodpi status`.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from pathlib import Path
from typing import Any, Protocol

from moodpi.config import ConfigError, PrivacyConfig
from moodpi.system.board import activity_led

log = logging.getLogger(__name__)


class Led(Protocol):
    name: str
    problem: str | None  # why the LED cannot be driven; None: fine (or no LED)

    def open(self) -> None: ...

    def set(self, on: bool) -> None: ...

    def close(self) -> None: ...


class NoLed:
    name = "none"
    problem: str | None = None

    def open(self) -> None:
        pass

    def set(self, on: bool) -> None:
        pass

    def close(self) -> None:
        pass


class _Guarded:
    """Shared failure handling: the first error disables the LED and is logged, once."""

    name = "led"

    def __init__(self) -> None:
        self.problem: str | None = None

    def _failed(self, what: str, exc: BaseException) -> None:
        if self.problem is None:
            self.problem = f"{what}: {exc}"
            log.warning("status LED %s disabled: %s", self.name, self.problem)


class SysfsLed(_Guarded):
    """`<dir>/brightness` written 0 or max; the kernel trigger (the activity LED blinks on SD
    card access) is set to `none` while moodpi drives it and put back on close."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = str(self.path)
        self._trigger: str | None = None
        self._on_value = "1"

    def open(self) -> None:
        try:
            self._trigger = _current_trigger(self.path / "trigger")
            if self._trigger is not None:
                (self.path / "trigger").write_text("none")
            with contextlib.suppress(OSError, ValueError):
                self._on_value = str(int((self.path / "max_brightness").read_text()) or 1)
            (self.path / "brightness").write_text("0")
        except OSError as exc:
            self._failed("cannot take over the LED (needs write access to its sysfs files)", exc)

    def set(self, on: bool) -> None:
        if self.problem is not None:
            return
        try:
            (self.path / "brightness").write_text(self._on_value if on else "0")
        except OSError as exc:
            self._failed("cannot switch the LED", exc)

    def close(self) -> None:
        self.set(False)
        if self._trigger is not None and self.problem is None:
            with contextlib.suppress(OSError):
                (self.path / "trigger").write_text(self._trigger)


class GpioLed(_Guarded):
    """An LED on a GPIO pin (BCM numbering) through gpiozero, else lgpio; neither: a problem."""

    def __init__(self, pin: int) -> None:
        super().__init__()
        self.pin = pin
        self.name = f"gpio:{pin}"
        self._device: Any = None
        self._chip: Any = None
        self._lgpio: Any = None

    def open(self) -> None:
        try:
            gpiozero = importlib.import_module("gpiozero")
            self._device = gpiozero.LED(self.pin)
            return
        except ImportError:
            pass
        except Exception as exc:  # gpiozero found no pin factory, or the pin is taken
            self._failed("gpiozero cannot drive the pin", exc)
            return
        try:
            self._lgpio = importlib.import_module("lgpio")
            self._chip = self._lgpio.gpiochip_open(0)
            self._lgpio.gpio_claim_output(self._chip, self.pin, 0)
        except ImportError:
            self._failed("no GPIO library", ImportError("install python3-gpiozero or lgpio"))
        except Exception as exc:
            self._failed("lgpio cannot drive the pin", exc)

    def set(self, on: bool) -> None:
        if self.problem is not None:
            return
        try:
            if self._device is not None:
                self._device.on() if on else self._device.off()
            elif self._chip is not None:
                self._lgpio.gpio_write(self._chip, self.pin, 1 if on else 0)
        except Exception as exc:
            self._failed("cannot switch the pin", exc)

    def close(self) -> None:
        self.set(False)
        with contextlib.suppress(Exception):
            if self._device is not None:
                self._device.close()
            elif self._chip is not None:
                self._lgpio.gpiochip_close(self._chip)
        self._device = self._chip = None


def make_led(privacy: PrivacyConfig) -> Led:
    """The LED `privacy.led` names; nothing is opened yet."""
    if privacy.led == "act":
        return SysfsLed(activity_led())
    if privacy.led == "gpio":
        return GpioLed(privacy.led_gpio_pin)
    if privacy.led == "sysfs":
        if not privacy.led_sysfs_path:
            raise ConfigError("privacy.led_sysfs_path", "led = sysfs needs the LED's directory")
        return SysfsLed(Path(privacy.led_sysfs_path))
    return NoLed()


def _current_trigger(path: Path) -> str | None:
    """The selected trigger of a sysfs LED ('none [mmc0] timer' → 'mmc0'); None: no trigger file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    for word in text.split():
        if word.startswith("[") and word.endswith("]"):
            return word[1:-1]
    return None
