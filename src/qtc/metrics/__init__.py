"""Metrics and health of a run: what the parts count, what is read at scrape time, readiness."""
