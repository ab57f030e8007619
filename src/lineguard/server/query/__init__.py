"""Dashboard queries: yield and defect rate over time, Pareto of defect classes, recent
alerts and node health. Aggregates read ``rollup_hourly`` (never the raw events), and
every function takes the lines the caller may read, so a summary never mixes in data
from lines outside the caller's scope."""
