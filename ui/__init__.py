"""The page (Gradio): one module per tab, the song pickers they share, the page guards and the API endpoints.

The floor below, ``vae/``, is the library: it reads songs, moves knobs and writes files, and knows no widget. Each
tab module holds its layout (a function returning its widgets as a namespace), its handlers and its wiring;
``app.py`` puts the tabs on one page and serves it.
"""
