"""Kafka messaging: topics, the CloudEvents envelope, the outbox relay and the consumer runner."""
