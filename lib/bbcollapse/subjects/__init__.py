"""Embedded black boxes used by the book and the tests (plug-ins; the library knows nothing about them)."""
