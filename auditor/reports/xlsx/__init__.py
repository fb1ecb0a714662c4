"""The Excel workbook renderer: one module per sheet family, `workbook.py` assembles them."""
