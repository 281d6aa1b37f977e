"""The report layer: a run's results (`run`) → headline numbers (`numbers`), tables (`tables`,
`curvature_tables`), the paper's published numbers (`paper`), figures (`figures`, `curvature_figures`)
and the markdown report (`markdown`)."""
