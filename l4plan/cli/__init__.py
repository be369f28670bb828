"""The `l4plan` command line: thin click commands over the library."""
