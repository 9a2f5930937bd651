"""What a service runs on: its settings, its runtime (database, broker, consumers and relay
started and stopped together), background tasks, the Stripe client, and — for development and
tests — NATS JetStream and PostgreSQL started from their wheels (`provide`)."""
