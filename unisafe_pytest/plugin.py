"""pytest glue (placeholder while the plugin core is written)."""
