"""Results folders into tables, plots and report.html: `act-bench report` (build.py) over the rows
(results.py), per-cell statistics (cell_tables.py), the page (page.py, header.py), plots
(plots.py), failed cells (failed_cells.py); a sweep's rows, statistics and report
(sweep_results.py, sweep_stats.py, sweep.py); `act-bench compare` (compare.py)."""
