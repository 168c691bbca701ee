"""Carriers, rate cards, routing policies, the routing engine, delivery promise, decisions, replay."""
