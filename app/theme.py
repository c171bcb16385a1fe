"""The colour theme: follow the system (Qt 6.5+ ``QStyleHints.colorScheme``), or force light or dark.

The choice is kept in the settings (``view/theme``); pyqtgraph plots take a
background that follows the scheme in effect.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QWidget

log = logging.getLogger(__name__)

THEMES = ("system", "light", "dark")
THEME_KEY = "view/theme"
PLOT_BACKGROUND = {"light": "w", "dark": "#1e1e1e"}


def saved_theme(settings: Any) -> str:
    """The saved choice (``system`` when none or unknown)."""
    value = str(settings.value(THEME_KEY, "system") or "system")
    return value if value in THEMES else "system"


def system_scheme() -> str:
    """``dark`` or ``light``: what the platform asks for (``light`` when it says nothing)."""
    app = QGuiApplication.instance()
    hints = app.styleHints() if app is not None else None
    scheme = getattr(hints, "colorScheme", None)
    if scheme is None:  # Qt < 6.5: judge by the palette
        return "dark" if QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128 else "light"
    return "dark" if scheme() == Qt.ColorScheme.Dark else "light"


def effective_scheme(choice: str) -> str:
    """The scheme a choice means now (``system`` resolved)."""
    return choice if choice in ("light", "dark") else system_scheme()


def dark_palette() -> QPalette:
    """A dark palette for the Fusion style (used where the platform cannot switch itself)."""
    p = QPalette()
    window, base, text = QColor(45, 45, 48), QColor(30, 30, 30), QColor(220, 220, 220)
    for role, color in (
        (QPalette.ColorRole.Window, window), (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base), (QPalette.ColorRole.AlternateBase, QColor(40, 40, 43)),
        (QPalette.ColorRole.ToolTipBase, window), (QPalette.ColorRole.ToolTipText, text),
        (QPalette.ColorRole.Text, text), (QPalette.ColorRole.Button, window),
        (QPalette.ColorRole.ButtonText, text), (QPalette.ColorRole.BrightText, QColor(255, 80, 80)),
        (QPalette.ColorRole.Link, QColor(90, 160, 255)), (QPalette.ColorRole.Highlight, QColor(38, 110, 200)),
        (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
        (QPalette.ColorRole.PlaceholderText, QColor(140, 140, 140)),
    ):  # fmt: skip
        p.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 120))
    return p


class ThemeManager:
    """Applies a theme choice to the application and keeps plots' backgrounds in step with it."""

    def __init__(self) -> None:
        self.choice = "system"
        self._default_palette: QPalette | None = None
        self._default_style: str | None = None
        self._listening = False

    @property
    def scheme(self) -> str:
        """``light`` or ``dark``: the scheme in effect."""
        return effective_scheme(self.choice)

    def apply(self, choice: str, root: QWidget | None = None) -> str:
        """Switch to ``choice`` (``system``/``light``/``dark``); returns the scheme in effect."""
        app = QApplication.instance()
        self.choice = choice if choice in THEMES else "system"
        if app is None:
            return self.scheme
        if self._default_palette is None:
            self._default_palette = QPalette(app.palette())
            self._default_style = app.style().name() if app.style() is not None else None
        hints = app.styleHints()
        if hasattr(hints, "setColorScheme"):  # Qt 6.8+: the platform style follows
            if self.choice == "system":
                hints.unsetColorScheme()
            else:
                hints.setColorScheme(Qt.ColorScheme.Dark if self.choice == "dark" else Qt.ColorScheme.Light)
        if not self._listening and hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(lambda _s: self._follow_system(root))
            self._listening = True
        # Platforms that cannot switch (offscreen, older desktops) get Fusion with a dark palette.
        if self.scheme == "dark" and app.palette().color(QPalette.ColorRole.Window).lightness() >= 128:
            app.setStyle("Fusion")
            app.setPalette(dark_palette())
        elif self.scheme == "light" and app.palette().color(QPalette.ColorRole.Window).lightness() < 128:
            app.setPalette(self._default_palette if self._default_palette.color(QPalette.ColorRole.Window)
                           .lightness() >= 128 else app.style().standardPalette())  # fmt: skip
        if root is not None:
            self.style_plots(root)
        return self.scheme

    def _follow_system(self, root: QWidget | None) -> None:
        if self.choice == "system":
            self.apply("system", root)

    def style_plots(self, root: QWidget) -> None:
        """Give every pyqtgraph view below ``root`` the background of the scheme in effect."""
        pg = sys.modules.get("pyqtgraph")
        if pg is None:  # no plot was ever built: nothing to colour
            return
        background = PLOT_BACKGROUND[self.scheme]
        try:
            pg.setConfigOption("background", background)
            pg.setConfigOption("foreground", "#dddddd" if self.scheme == "dark" else "k")
        except Exception as e:  # noqa: BLE001 - an old pyqtgraph: the views below still get it
            log.debug("pyqtgraph config not set: %s", e)
        view_class = getattr(pg, "GraphicsView", None)
        if view_class is None:  # pyqtgraph is being imported on a worker (the preview's warm-up): no view yet
            return
        for view in root.findChildren(view_class):
            view.setBackground(background)


def plot_background(view: Any) -> QColor:
    """The background colour of a pyqtgraph view (for tests and screenshots)."""
    return QColor(view.backgroundBrush().color())
