"""The served site: Gradio chat, HTTP API, embeddable pages, abuse guard and question log."""
