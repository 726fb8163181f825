"""io: files written atomically, input files read safely, JSON Lines, the printing rule."""
