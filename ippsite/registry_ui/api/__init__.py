"""JSON API (v1) of the modules app: infrastructures, environments, publish, deploy, catalog."""
