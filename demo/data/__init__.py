"""The demo retailer's data tables: places, catalogue, channels, people. Plain Python, no database access."""
