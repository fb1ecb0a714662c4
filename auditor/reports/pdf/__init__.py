"""The PDF renderer: `model.py` builds the view, `document.py` renders it with WeasyPrint."""
