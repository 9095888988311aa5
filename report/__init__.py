"""The run report as a pure library: polars frames and dicts in, PNG files (:mod:`report.plots`),
summary frames (:mod:`report.tables`) and HTML or Markdown text (:mod:`report.html`) out. The
warehouse glue is ``stages/report.py``."""
