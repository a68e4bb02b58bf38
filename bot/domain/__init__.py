"""Pure core: no I/O, no clock, no environment. A test walks its imports."""
