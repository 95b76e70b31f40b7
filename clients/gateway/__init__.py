"""The entry point members and meters use: rate limits and a basic IDS in front of the REST API."""
