"""The guided-loading panel: how far the force is from the target profile, now.

The profile itself scrolls through the live plot (``LivePlot.set_profile``); this panel
gives the number: the deviation (force − target) in big digits, green within the
profile's tolerance, amber outside; the target now, which cycle, how long is left; and,
once the profile is over, its score.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from logger.guided import Profile, ProfileScore

from .. import theme
from ..display import DisplayUnits
from ..format import mm_ss, num


class GuidedPanel(QFrame):
    """Deviation from the guided profile in force, target, progress, final score."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("panel")
        self.units = DisplayUnits()
        self.title = QLabel("Guided profile")
        self.title.setFont(theme.font(theme.BIG_PT - 2, bold=True))
        self.deviation_label = QLabel("—")
        self.deviation_label.setFont(theme.font(theme.READOUT_PT - 16, bold=True, mono=True))
        self.target_label = QLabel("")
        self.target_label.setFont(theme.font(theme.BIG_PT, mono=True))
        self.progress_label = QLabel("")
        self.progress_label.setObjectName("dim")
        self.score_label = QLabel("")
        self.score_label.setFont(theme.font(theme.BASE_PT + 1, bold=True))
        self.score_label.setWordWrap(True)
        caption = QLabel("force − target")
        caption.setObjectName("dim")
        number = QVBoxLayout()
        number.addWidget(caption)
        number.addWidget(self.deviation_label)
        number.addStretch(1)
        info = QVBoxLayout()
        info.addWidget(self.target_label)
        info.addWidget(self.progress_label)
        info.addStretch(1)
        info.addWidget(self.score_label)
        body = QHBoxLayout()
        body.addLayout(number)
        body.addSpacing(24)
        body.addLayout(info, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.addWidget(self.title)
        layout.addLayout(body, 1)

    def set_units(self, units: DisplayUnits) -> None:
        self.units = units

    def set_profile(self, profile: Profile) -> None:
        u = self.units
        self.title.setText(
            f"Guided profile: {profile.kind}, {u.force(profile.force_n)} "
            f"± {u.force(profile.tolerance_n)}, {profile.repeats} ×"
        )
        self.score_label.setText("")

    def set_now(
        self,
        profile: Profile,
        since_start_s: float,
        deviation_n: float | None,
        target: float | None,
    ) -> None:
        """The moment ``since_start_s`` into the profile: force − target and the target
        (None: no force, or the profile is not running at that moment)."""
        u = self.units
        if deviation_n is None or target is None:
            self.deviation_label.setText("—")
            self.deviation_label.setStyleSheet(f"color: {theme.TEXT_DIM};")
        else:
            sign = "+" if deviation_n >= 0 else "−"
            self.deviation_label.setText(sign + u.force(abs(deviation_n)))
            ok = abs(deviation_n) <= profile.tolerance_n
            self.deviation_label.setStyleSheet(f"color: {theme.OK if ok else theme.WARN};")
        self.target_label.setText("" if target is None else f"target {u.force(target)}")
        duration = profile.duration_s
        if since_start_s >= duration:
            self.progress_label.setText("profile over")
            return
        cycle = min(int(since_start_s // profile.period_s) + 1, profile.repeats)
        self.progress_label.setText(
            f"cycle {cycle} of {profile.repeats}  ·  {mm_ss(duration - since_start_s)} left"
        )

    def set_score(self, score: ProfileScore) -> None:
        u = self.units
        self.score_label.setText(
            f"RMS error {u.force(score.rms_error_n)}, mean {u.force(score.mean_abs_error_n)}, "
            f"in band {num(score.in_band_pct, '%', 0)} of the time"
        )
