"""paygate."""
