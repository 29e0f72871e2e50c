"""Errors of the spatial frame; each message is a sentence a user can act on."""

from __future__ import annotations


class GridError(Exception):
    """Base of every error raised by the grid package."""


class NotFound(GridError):
    """A grid, building or administrative unit with that code does not exist."""


class InvalidQuery(GridError):
    """A filter (bbox, area code, page) is malformed."""
