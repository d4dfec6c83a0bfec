"""The reports: PNG grids, strips and GIF walks (`images`) and the HTML report of a run (`report`)."""
