"""Logging, health, readiness and metrics, the same in every service."""
