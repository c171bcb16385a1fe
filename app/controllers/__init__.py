"""The window's controllers (as silx's ``ApplicationContext``): what the window does, apart from its widgets.

:class:`~.navigation.Navigation` (path bar, selection, filter, reveal, history),
:class:`~.file_ops.FileOperations` (new folder, rename, delete, download/upload, compare),
:class:`~.clipboard.ClipboardController` (copy, paste, drag out) and
:class:`~.session.Session` (mounts and window state in the settings, recent locations).
Each holds the :class:`~app.window.MainWindow` it serves and reaches its widgets
through it; the window keeps the public methods, delegating here.
"""
