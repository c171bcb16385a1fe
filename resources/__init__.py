"""Icons, the .desktop file and the demo-data generator."""
