"""What adoption prints: what changes for the owner, the before/after table,
what it did, and what it would lose."""

from .run import Outcome

WIDTHS = (22, 32, 26, 26)


def cell(text: str, width: int) -> str:
    text = str(text)
    return text.ljust(width) if len(text) <= width else text[: width - 3] + "..."


def table(outcome: Outcome, everything: bool) -> list[str]:
    rows = [row for row in outcome.rows if everything or row.how != "same"]
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
