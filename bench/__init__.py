"""The benchmark (`bench/run`): its data set, its bare baseline views and settings."""
