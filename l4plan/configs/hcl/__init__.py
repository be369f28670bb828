"""The HCL front end: grammar, parser driver, syntax tree, templates, heredocs, sources, fmt."""
