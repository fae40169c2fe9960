"""Change data capture: database change logs applied to Delta mirrors."""
