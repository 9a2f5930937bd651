"""Event contracts: Stripe's events as we read them, and our own domain events."""
