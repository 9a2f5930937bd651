"""Tollgate webhook gateway: verify Stripe's signature, store the event, then answer 200."""
