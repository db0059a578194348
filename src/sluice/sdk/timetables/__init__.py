"""Timetable implementations; import them from ``sluice.sdk.schedules``."""
