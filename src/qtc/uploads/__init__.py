"""Strategy uploads: the desk that checks and stores versions, and the minute-boundary swap."""
