"""An in-memory stand-in for the Stripe API and its webhooks."""
