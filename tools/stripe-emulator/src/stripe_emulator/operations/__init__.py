"""What happens inside Stripe when money moves: each function changes state and emits events."""
