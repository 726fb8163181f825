"""registry: built-in adapter and judge kinds, model profiles (lazy factories)."""
