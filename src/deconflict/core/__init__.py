"""The pure core: model, geometry, engines. No I/O, no clock reads, no environment."""
