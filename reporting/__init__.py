"""KPI rollups, dashboards, exports, forecasts (reads every other app, written to by none)."""
