"""NATS bus: subject catalogue, the one codec, connection lifecycle and JetStream stream declarations."""
