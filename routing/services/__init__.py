"""Routing services: the network snapshot, the live path, the delivery promise, policies and rate cards."""
