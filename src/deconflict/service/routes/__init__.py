"""HTTP routes, one module per resource; each parses, authorises and calls the write path or a read."""
