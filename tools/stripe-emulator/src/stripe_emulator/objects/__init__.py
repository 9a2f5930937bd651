"""Builders of Stripe objects, shaped like Stripe's own examples (API 2026-07-29.dahlia)."""
