"""Event contracts: Stripe's events as we read them, our own domain events, and the base of
every service's domain errors."""
