"""Locations, products, stock levels, the stock ledger, reservations, transfers, replenishment."""
