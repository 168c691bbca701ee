"""Demo data for a realistic Brazilian retailer (`manage.py seed_demo`); sits above every other app."""
