"""The statistics of the report: medians over rounds, how much rounds
disagreed, ratios of the same round, and targets on those ratios."""

import re
import statistics


def median(values) -> float:
    return statistics.median(values)


def spread(values) -> float:
    """(max - min) / median: how much the rounds disagreed."""
    middle = median(values)
    return (max(values) - min(values)) / middle if middle else 0.0


def median_ratio(tops, bottoms) -> float:
    """The median of the per-round ratios top / bottom; a round whose bottom
    is 0 (a cell that finished no request: a very short one on a busy
    machine) has no ratio, and with none left the result is nan."""
    ratios = [top / bottom for top, bottom in zip(tops, bottoms, strict=True) if bottom and top is not None]
    return median(ratios) if ratios else float("nan")


def check_target(target: str, rps_ratio: float, p99_ratio: float) -> bool:
    """'>= 0.6' on req/s; '>= 1.1, p99 <= 1' also bounds the p99 ratio."""
    ok = rps_ratio >= float(re.search(r">= ([\d.]+)", target).group(1))
    p99_bound = re.search(r"p99 <= ([\d.]+)", target)
    return ok and (not p99_bound or p99_ratio <= float(p99_bound.group(1)))
