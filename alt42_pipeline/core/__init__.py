"""Domain logic of the data spine, free of Dagster: events, features, KPIs."""
