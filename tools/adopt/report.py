"""What adoption prints: what changes for the owner, the before/after table,
what it did, and what it would lose."""

from .run import Outcome, Row

WIDTHS = (30, 30, 24, 24)


def cell(text: str, width: int) -> str:
    text = str(text)
    return text.ljust(width) if len(text) <= width else text[: width - 3] + "..."


def merged(rows: list[Row]) -> list[Row]:
    """One row for a setting that compares alike in several settings modules."""
    groups: dict[tuple, list[Row]] = {}
    for row in rows:
        groups.setdefault((row.area.split(" (")[0], row.name, row.before, row.after, row.how), []).append(row)
    out = []
    for (area, name, before, after, how), group in groups.items():
        where = [row.area.split(" (", 1)[1].rstrip(")") for row in group if " (" in row.area]
        out.append(Row(f"{area} ({', '.join(where)})" if where else area, name, before, after, how))
    return out


def table(outcome: Outcome, everything: bool) -> list[str]:
    rows = merged([row for row in outcome.rows if everything or row.how != "same"])
    if not rows:
        return ["  (every setting, route and Celery part compares the same)"]
    head = ("where", "what", "before", "after")
    lines = ["  " + " ".join(cell(text, width) for text, width in zip(head, WIDTHS, strict=True)) + " how"]
    for row in rows:
        cells = (row.area, row.name, row.before, row.after)
        lines.append(
            "  " + " ".join(cell(text, width) for text, width in zip(cells, WIDTHS, strict=True)) + " " + row.how
        )
    same = sum(1 for row in outcome.rows if row.how == "same")
    if not everything and same:
        lines.append(f"  ... and {same} more that compare the same (--table all lists them)")
    return lines


def printed(outcome: Outcome, everything: bool = False) -> str:
    lines = []
    if outcome.upfront:
        lines.append("What changes for you:")
        lines += [f"  - {line}" for line in outcome.upfront]
    lines.append("Before and after (your settings, routes and Celery parts):")
    lines += table(outcome, everything)
    if outcome.notes:
        lines.append("Done:")
        lines += [f"  - {note}" for note in outcome.notes]
    if outcome.losses:
        lines.append("Would be lost:")
        lines += [f"  - {loss}" for loss in outcome.losses]
    return "\n".join(lines)
