"""Messaging on NATS JetStream: streams, publishing with ack, inbox, outbox, consumers."""
