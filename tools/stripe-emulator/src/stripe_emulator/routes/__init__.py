"""Stripe API routes, one module per group of resources."""
