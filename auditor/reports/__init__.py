"""Renderers: summary.json and breaches.json, the Excel workbook and the PDF."""
