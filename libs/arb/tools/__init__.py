"""Small CLI tools: version, config check, tap."""
