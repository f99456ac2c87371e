"""One shape for each thing QTC shows: orders, portfolios, the leaderboard, the run's status.

The API, the live events, the console, the strategies' `team` view and the files all render
through these functions, so a field means the same everywhere. Each module imports only the
domain (the leaderboard also the tracker's read port), never I/O.
"""
