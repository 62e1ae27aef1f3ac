"""Domain model shared by every process: enums, symbols, events, commands, errors."""
