"""Reusable hardware blocks shared by the engines."""
