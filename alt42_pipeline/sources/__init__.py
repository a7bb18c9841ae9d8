"""Readers of the real source databases (assessment DB and Moodle) and their schemas."""
