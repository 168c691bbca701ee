"""Channels, customers, orders and lines, fulfilments, the order timeline, returns, CS pages."""
