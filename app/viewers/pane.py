"""The preview pane: one pane, a viewer chosen by what is selected, loads on workers.

``show_location(uri)`` resolves the URI and prepares the chosen viewer's data
on a :class:`~app.workers.LatestOnly` slot, so a newer selection cancels an
older load; a busy indicator shows meanwhile, and errors become a readable
message in the pane (never an exception).  ``loaded(uri)`` is emitted once
the preview (or the error message) is on screen.

Warm-up: once the pane is first shown, the array viewer's modules (pyqtgraph,
the slice plot) are imported on a worker and the viewer is then built ahead
in short idle-time steps (``QTimer.singleShot(0)``), so the first array
selected neither imports nor builds anything on the GUI thread.  A viewer
selected before it is ready is finished with the same steps while the busy
page shows (``warmed`` is emitted once the warm-up is over).
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QStackedWidget, QVBoxLayout, QWidget

from .. import qt_classes
from ..workers import LatestOnly
from .budget import Budget
from .qt_compat import guard_none_refcount
from .widgets import LoadingPage, alive

log = logging.getLogger(__name__)

#: a load shows the busy page only after this long (quick loads swap previews directly)
SPINNER_DELAY_MS = 150


def _prepare(uri: str, forced: str | None, budget: Budget, token: Any) -> tuple:
    from .registry import candidates, choose, classify

    target = classify(uri)
    found = candidates(target) or [choose(target)]
    cls = next((c for c in found if c.__name__ == forced), found[0])
    payload = cls.prepare(target, budget, token)
    return target, found, cls, payload


def _warm_modules() -> list[type]:
    """The viewer classes the pane builds ahead, their widgets' modules imported (worker thread)."""
    qt_classes.ensure()  # the GUI thread makes PySide6's classes first: see app.qt_classes
    from .array_viewer import ArrayViewer

    ArrayViewer.preload()
    return [ArrayViewer]


def _close_target(old: Any, new: Any) -> None:
    """Release the container file of the previous selection (unless the new one shares it), on a worker:
    closing an HDF5 file flushes h5py's caches and takes its lock (100-200 ms on big files)."""
    node = getattr(old, "node", None)
    if node is None or old is new or getattr(new, "node", None) is node:
        return
    from ..workers import submit

    submit(_close_node, node)


def _close_node(node: Any) -> None:
    try:
        node.close()
    except Exception as e:  # noqa: BLE001 - closing is best effort
        log.debug("closing %s failed: %s", getattr(node, "path", node), e)


class PreviewPane(QWidget):
    """Shows the selected location; emits ``loaded(uri)`` once its preview is on screen."""

    loaded = Signal(str)
    message = Signal(str)
    #: a viewer widget was built (the window styles new plots for the theme in effect)
    widget_created = Signal(object)
    #: the warm-up is over: the array viewer's modules are imported and the viewer is built (or it failed)
    warmed = Signal()

    def __init__(self, parent: QWidget | None = None, budget: Budget | None = None) -> None:
        super().__init__(parent)
        guard_none_refcount()
        qt_classes.start()  # before any worker imports the plot's modules (the warm-up, a first selection)
        self.budget = budget or Budget.from_env()
        self._slot = LatestOnly(owner=self)  # a load finishing after the pane is gone delivers nothing
        self._uri: str | None = None
        self._awaiting = False  # a selection is being prepared
        self._pending: str | None = None
        self._widgets: dict[type, Any] = {}
        self._building: set[Any] = set()  # viewers built in idle-time steps, not complete yet
        self._waiting: tuple[str, tuple] | None = None  # a prepared selection waiting for its viewer's build
        self._warm_state = ""  # "", "importing", "building", "done"
        self._unannounced: list[Any] = []  # widget_created held back while the warm-up imports
        self._current: Any = None
        self.viewer_class: type | None = None
        self.target: Any = None

        self._title = QLabel()
        self._title.setStyleSheet("font-weight: bold;")
        # a long URI is clipped (full text in the tooltip) rather than widening the pane
        self._title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._view_as = QComboBox()
        self._view_as.setToolTip("View as")
        self._view_as.hide()
        self._view_as.activated.connect(self._on_view_as)
        header = QHBoxLayout()
        header.setContentsMargins(4, 2, 4, 2)
        header.addWidget(self._title, 1)
        header.addWidget(self._view_as)
        self._stack = QStackedWidget()
        self._loading = LoadingPage()
        self._stack.addWidget(self._loading)
        self._spinner = QTimer(self)
        self._spinner.setSingleShot(True)
        self._spinner.setInterval(SPINNER_DELAY_MS)
        self._spinner.timeout.connect(lambda: self._stack.setCurrentWidget(self._loading))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self._stack, 1)

    # -- public ------------------------------------------------------------------
    def show_location(self, uri: str) -> None:
        """Preview ``uri`` (loads on a worker; newer calls cancel older ones)."""
        self._load(uri, None, self.budget)

    def view_as(self, viewer_name: str) -> bool:
        """Show the current selection with the viewer class called ``viewer_name`` (the "View as" choice)."""
        if not self._uri:
            return False
        self._load(self._uri, viewer_name, self.budget)
        return True

    def clear(self) -> None:
        """Show nothing."""
        self._slot.cancel()
        self._waiting = None
        self._spinner.stop()
        self._awaiting = False
        self._stop_current()
        _close_target(self.target, None)
        self.target = self.viewer_class = None
        self._uri = self._pending = None
        self._title.setText("")
        self._view_as.hide()
        self._loading.show_text("Select something to preview it.")
        self._stack.setCurrentWidget(self._loading)

    @property
    def current_viewer(self) -> Any:
        """The viewer widget showing the current selection (None while loading or showing a message)."""
        if self._awaiting or self._stack.currentWidget() is not self._current:
            return None
        return self._current

    def focus_target(self) -> QWidget:
        """What takes the keyboard focus when the pane does (F6): the viewer's first focusable control."""
        root = self._current if self._current is not None and self._stack.currentWidget() is self._current else None
        if root is not None:
            if root.focusPolicy() & Qt.FocusPolicy.TabFocus:
                return root
            for child in root.findChildren(QWidget):
                if child.isVisibleTo(root) and child.isEnabled() and child.focusPolicy() & Qt.FocusPolicy.TabFocus:
                    return child
        if not self.focusPolicy() & Qt.FocusPolicy.TabFocus:
            self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # an empty pane still takes the focus (F6 goes on)
        return self

    @property
    def busy(self) -> bool:
        """True while a selection is being prepared."""
        return self._awaiting

    # -- warm-up -----------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        """The first show starts the warm-up (after this event: the window paints first)."""
        super().showEvent(event)
        if not self._warm_state:
            QTimer.singleShot(0, self, self.warm_up)

    @property
    def warm(self) -> bool:
        """True once the warm-up is over (``warmed`` was emitted)."""
        return self._warm_state == "done"

    def warm_up(self) -> None:
        """Import the array viewer's modules on a worker, then build it ahead in idle-time steps (once)."""
        if self._warm_state:
            return
        self._warm_state = "importing"
        from ..workers import submit

        submit(_warm_modules, owner=self,
               on_done=lambda classes: alive(self) and self._build_ahead(classes),
               on_error=lambda m, e: alive(self) and self._warm_failed(m))  # fmt: skip

    def _build_ahead(self, classes: list[type]) -> None:
        self._warm_state = "building"
        self._announce_held()
        for cls in classes:
            self._build_in_steps(cls)
        self._check_warm()  # (already built by a selection: nothing to wait for)

    def _warm_failed(self, message: str) -> None:
        log.info("preview warm-up failed (the first preview builds its viewer then): %s", message)
        self._warm_state = "building"
        self._announce_held()
        self._check_warm()

    def _check_warm(self) -> None:
        if self._warm_state == "building" and not self._building:
            self._warm_state = "done"
            self.warmed.emit()

    def _announce(self, widget: Any) -> None:
        """Emit ``widget_created``; held back while the warm-up imports pyqtgraph on a worker, as the
        slots (the window styles plots) may look pyqtgraph up in ``sys.modules``, half imported then."""
        if self._warm_state == "importing":
            self._unannounced.append(widget)
        else:
            self.widget_created.emit(widget)

    def _announce_held(self) -> None:
        held, self._unannounced = self._unannounced, []
        for widget in held:
            if alive(widget):
                self.widget_created.emit(widget)

    # -- loading -----------------------------------------------------------------
    def _load(self, uri: str, forced: str | None, budget: Budget) -> None:
        self._stop_current()
        self._waiting = None
        self._uri = self._pending = uri
        self._title.setText(uri)
        self._title.setToolTip(uri)
        self._loading.loading(uri.rstrip("/").rsplit("/", 1)[-1] or uri)
        # The busy page shows only when a load takes a while: a quick load goes from one
        # preview to the next without tearing the viewer down and laying it out again.
        self._spinner.start()
        self._awaiting = True
        self._slot.submit(
            _prepare, uri, forced, budget, with_token=True,
            on_done=lambda r, u=uri: alive(self) and self._on_prepared(u, r),
            on_error=lambda m, e, u=uri: alive(self) and self._on_failed(u, m),
        )  # fmt: skip

    def _stop_current(self) -> None:
        if self._current is not None:
            self._current.stop()

    def _widget(self, cls: type) -> Any:
        """The viewer of class ``cls``, complete (built now when it is not, or not yet completely)."""
        widget = self._widgets.get(cls)
        if widget is None:
            widget = self._add_viewer(cls, cls())
        if widget in self._building:  # (_on_prepared waits for a stepwise build instead) complete it now
            while not widget.build_step():
                pass
            self._built(widget)
        return widget

    def _add_viewer(self, cls: type, widget: Any, built: bool = True) -> Any:
        widget.ready.connect(lambda w=widget: self._on_ready(w))
        widget.status.connect(self.message)
        widget.view_as_requested.connect(self.view_as)
        widget.show_requested.connect(self.show_location)
        load_full = getattr(widget, "load_full", None)
        if load_full is not None:
            load_full.connect(lambda c=cls: self._uri and self._load(self._uri, c.__name__, self.budget.unlimited()))
        self._widgets[cls] = widget
        self._stack.addWidget(widget)
        if built:
            self._announce(widget)
        else:
            self._building.add(widget)
        return widget

    def _build_in_steps(self, cls: type) -> None:
        """Build a viewer of ``cls`` (a ``STEPWISE`` one) one step per event-loop turn, unless it exists."""
        if cls in self._widgets:
            return
        try:
            widget = self._add_viewer(cls, cls(build_now=False), built=False)
        except Exception as exc:  # noqa: BLE001 - a viewer bug must not take the window down
            self._build_failed(cls, None, exc)
            return
        QTimer.singleShot(0, widget, lambda: self._next_step(widget))

    def _next_step(self, widget: Any) -> None:
        self._build_step(widget)
        if widget in self._building:
            QTimer.singleShot(0, widget, lambda: self._next_step(widget))

    def _build_step(self, widget: Any) -> None:
        """One construction step of ``widget``; once complete, announce it and show the selection waiting for it."""
        if widget not in self._building:
            return
        try:
            if not widget.build_step():
                return
        except Exception as exc:  # noqa: BLE001 - a viewer bug must not take the window down
            self._build_failed(type(widget), widget, exc)
            return
        self._built(widget)
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            self._on_prepared(*waiting)
        else:
            QTimer.singleShot(0, widget, lambda: self._prerender(widget))

    def _prerender(self, widget: Any) -> None:
        """Paint a viewer built ahead once, off screen, while no selection waits for it.

        A plot's first paint runs one-time code (fonts, pyqtgraph's item caches): 27 ms against
        6-8 ms for the next ones, which the first selection's pixels would otherwise wait for.
        """
        if (alive(widget) and widget is not self._current and self._waiting is None and not self._awaiting
                and widget not in self._building):
            widget.grab()

    def _build_failed(self, cls: type, widget: Any, exc: Exception) -> None:
        """Drop a viewer whose construction failed; a selection waiting for it shows the error."""
        log.warning("%s could not be built", cls.__name__, exc_info=exc)
        if widget is not None:
            self._building.discard(widget)
            if self._widgets.get(cls) is widget:
                del self._widgets[cls]
            self._stack.removeWidget(widget)
            widget.deleteLater()
        self._check_warm()
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            from ..workers import describe_error

            self._on_failed(waiting[0], describe_error(exc))

    def _built(self, widget: Any) -> None:
        self._building.discard(widget)
        self._announce(widget)
        self._check_warm()

    def _on_prepared(self, uri: str, result: tuple) -> None:
        if uri != self._uri:
            return
        target, found, cls, payload = result
        if getattr(cls, "STEPWISE", False) and (cls not in self._widgets or self._widgets[cls] in self._building):
            # its modules were imported by prepare (a worker): build it in steps, then come back here
            self._waiting = (uri, result)
            self._build_in_steps(cls)
            return
        self._spinner.stop()
        self._awaiting = False
        old = self.target
        self.target, self.viewer_class = target, cls
        self._title.setText(f"{target.name}  ·  {cls.title}")
        self._view_as.blockSignals(True)
        self._view_as.clear()
        for c in found:
            self._view_as.addItem(c.title, c.__name__)
        self._view_as.setCurrentIndex(found.index(cls))
        self._view_as.blockSignals(False)
        self._view_as.setVisible(len(found) > 1)
        try:
            widget = self._widget(cls)
            self._current = widget
            self._stack.setCurrentWidget(widget)
            widget.display(payload)
        except Exception as exc:  # noqa: BLE001 - a viewer bug must not take the window down
            log.warning("%s could not display %s", cls.__name__, uri, exc_info=exc)
            from ..workers import describe_error

            self._on_failed(uri, describe_error(exc))
        finally:
            _close_target(old, target)

    def _on_ready(self, widget: Any) -> None:
        if widget is self._current and self._pending is not None:
            uri, self._pending = self._pending, None
            self.loaded.emit(uri)

    def _on_failed(self, uri: str, text: str) -> None:
        if uri != self._uri:
            return
        self._spinner.stop()
        self._awaiting = False
        self._current = None
        self._loading.show_text(text, error=True)
        self._stack.setCurrentWidget(self._loading)
        self.message.emit(text)
        self._pending = None
        self.loaded.emit(uri)

    def _on_view_as(self, index: int) -> None:
        name = self._view_as.itemData(index)
        if name:
            self.view_as(name)
