"""A local SMTP sink for development and tests."""
