"""The public APIs users already know: FileManager, Store, AutoStore/AutoPath and the Savers."""
