"""HTTP API and French dashboard. Starts and updates workflows; reads lists from Postgres."""
