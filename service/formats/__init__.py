"""Pure file formats (no Flask, no database): value converters and field specs, report CSV and PFIF,
spreadsheet tables, notice rendering."""
