"""Dialogs of the Storescope window."""
