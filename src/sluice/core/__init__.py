"""States, errors and shared types: the vocabulary every other layer speaks."""
