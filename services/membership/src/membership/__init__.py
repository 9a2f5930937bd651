"""Tollgate membership: who may do what, from what Stripe says they paid."""
