"""Storescope: the Qt desktop application over storecore."""
