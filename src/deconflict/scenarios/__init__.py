"""Bundled scenarios (data files) and the code that reads them."""
