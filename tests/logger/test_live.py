"""LiveSession details the end-to-end recording tests do not isolate."""

from __future__ import annotations

from logger.config import Config
from logger.live import DeviceNotice, LiveSession, limit_notice, wait_until


def test_device_alarm_notices_are_in_plain_words():
    assert limit_notice(1) == "device alarm: over warning level"
    assert limit_notice(-1) == "device alarm: back below warning level"
    assert limit_notice(2) == "device alarm: over maximum"


def test_the_device_buzzer_and_the_end_of_a_script_reach_the_window_in_words(tmp_path):
    """The simulated device sounds its buzzer over the limits LiveSession gave it."""
    path = tmp_path / "buzz.toml"
    path.write_text(
        '[[steps]]\naction = "rest"\nseconds = 1.0\n'
        '[[steps]]\naction = "hold"\nforce_n = 45.0\nseconds = 3.0\n'
        '[[steps]]\naction = "rest"\nseconds = 1.0\n'
    )
    live = LiveSession(f"sim://buzz?scenario={path}&speed=0", Config())
    live.start()
    try:
        assert wait_until(live.finished.is_set, 20.0)
    finally:
        live.stop()
    notices = [e.text for e in live.poll_events() if isinstance(e, DeviceNotice)]
    assert "device alarm: over warning level" in notices
    assert "device alarm: back below warning level" in notices
    assert notices[-1] == "simulated scenario ended"
