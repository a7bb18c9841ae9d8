"""ALT42 learning-analytics pipeline."""
