"""The studio's pages: one module per step, plus ``ui`` for what they share."""
