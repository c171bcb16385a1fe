"""Viewers for the preview pane, chosen by what is selected."""
