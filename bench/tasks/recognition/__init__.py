"""Recognition: *what* action is in a trimmed clip (one label per video)."""
