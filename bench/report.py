"""The report, in Markdown as BENCHMARKS.md keeps it: printed as it grows."""

from dataclasses import dataclass, field

from .measure import CONNECTIONS
from .stats import check_target, median, median_ratio, spread


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    spreads: list[float] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)
        print(*lines, sep="\n", flush=True)

    def ratio_table(self, title: str, results: dict, pairs: list[tuple[str, str, str, str]]) -> None:
        """pairs: (label, numerator, denominator, target) where target is
        like '>= 0.6' on the req/s ratio, or ''."""
        self.add("", f"#### {title}: ratios (median of per-round ratios)", "")
        header = "| comparison |" + "".join(f" req/s c={c} | p99 c={c} |" for c in CONNECTIONS) + " target |"
        self.add(header, "|---|" + "---:|---:|" * len(CONNECTIONS) + "---|")
        for label, top, bottom, target in pairs:
            row = f"| {label} |"
            verdicts = []
            for connections in CONNECTIONS:
                a, b = results[(top, connections)], results[(bottom, connections)]
                rps = median_ratio([x.rps for x in a], [y.rps for y in b])
                p99 = median_ratio([x.p99_ms for x in a], [y.p99_ms for y in b])
                row += f" {rps:.2f} | {p99:.2f} |"
                if target:
                    verdicts.append(check_target(target, rps, p99))
            verdict = ""
            if target:
                verdict = f"{target}: " + ("met" if all(verdicts) else "MISSED")
                self.targets.append(f"{title} / {label}: {verdict}")
            self.add(row + f" {verdict} |")

    def context_table(self, title: str, results: dict, labels: dict[str, str]) -> None:
        self.add("", f"#### {title}: context (medians; min–max spread of req/s across rounds)", "")
        header = "| variant |" + "".join(f" req/s c={c} | p99 ms c={c} | spread | errors |" for c in CONNECTIONS)
        self.add(header, "|---|" + "---:|---:|---:|---:|" * len(CONNECTIONS))
        for name, label in labels.items():
            row = f"| {label} |"
            for connections in CONNECTIONS:
                loads = results[(name, connections)]
                rates = [load.rps for load in loads]
                self.spreads.append(spread(rates))
                row += (
                    f" {median(rates):.0f} | {median(load.p99_ms for load in loads):.1f} |"
                    f" {spread(rates):.0%} | {sum(load.failures for load in loads)} |"
                )
            self.add(row)
