"""Printable cutting and positioning guides, their checks, and models for the operating room."""
