"""Qt item models over storecore."""
