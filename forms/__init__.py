"""Documents of the service: catalogue, templates, styles, fonts and the renderer (forms/render.py)."""
