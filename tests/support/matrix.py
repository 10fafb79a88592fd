"""Profiles to render: the choice and bool questions of copier.yml, and a
set of answer combinations that covers every pair of their values."""

from itertools import combinations, product

from .facts import answer_context, copier_config, render_value


def question_values() -> dict[str, list]:
    """Every choice and bool question with its allowed values, read from
    copier.yml; s3_provider is folded into media_storage ("s3:aws" ...),
    since it is asked only when media_storage is s3."""
    factors = {}
    for name, question in copier_config().items():
        if name.startswith("_") or not isinstance(question, dict) or question.get("when") is False:
            continue
        if question.get("type") == "bool":
            factors[name] = [False, True]
        elif "choices" in question:
            choices = question["choices"]
            factors[name] = list(choices.values()) if isinstance(choices, dict) else list(choices)
    providers = factors.pop("s3_provider")
    factors["media_storage"] = [value for value in factors["media_storage"] if value != "s3"]
    factors["media_storage"] += [f"s3:{provider}" for provider in providers]
    return factors


def answers(row: dict) -> dict:
    """Copier answers for one row of the matrix."""
    result = dict(row)
    if "media_storage" in result:
        storage, _, provider = result.pop("media_storage").partition(":")
        result["media_storage"] = storage
        if provider:
            result["s3_provider"] = provider
    return result


def refusals(row: dict) -> list[str]:
    """What copier.yml's validators of the choice and bool questions say of
    a row (other answers at their defaults); empty when Copier accepts it."""
    context = answer_context(**answers(row))
    in_rows = {*question_values(), "s3_provider"}
    found = []
    for name, question in copier_config().items():
        if name in in_rows and question.get("validator"):
            message = render_value(question["validator"], context).strip()
            if message:
                found.append(f"{name}: {message}")
    return found


def refused_pairs(factors: dict[str, list]) -> set[frozenset]:
    """The pairs of values that Copier refuses together (such as a volume
    for uploads with a target that runs on several hosts)."""
    return {
        frozenset({(a, va), (b, vb)})
        for a, b in combinations(factors, 2)
        for va, vb in product(factors[a], factors[b])
        if refusals({a: va, b: vb})
    }


def all_pairs(factors: dict[str, list]) -> list[dict]:
    """A small set of rows in which every value of every factor meets every
    value of every other factor at least once, unless Copier refuses the
    pair (greedy, deterministic)."""
    names = list(factors)
    refused = refused_pairs(factors)
    uncovered = {
        ((a, va), (b, vb))
        for a, b in combinations(names, 2)
        for va, vb in product(factors[a], factors[b])
        if frozenset({(a, va), (b, vb)}) not in refused
    }

    def allowed(row: dict, name: str, value) -> bool:
        return all(frozenset({(other, row[other]), (name, value)}) not in refused for other in row)

    rows = []
    while uncovered:
        (first, first_value), (second, second_value) = min(uncovered, key=repr)
        row = {first: first_value, second: second_value}
        for name in names:
            if name in row:
                continue
            row[name] = max(
                (value for value in factors[name] if allowed(row, name, value)),
                key=lambda value: sum(
                    ((other, row[other]), (name, value)) in uncovered
                    or ((name, value), (other, row[other])) in uncovered
                    for other in row
                ),
            )
        rows.append(row)
        uncovered -= {((a, row[a]), (b, row[b])) for a, b in combinations(names, 2)}
    return rows


def row_id(row: dict) -> str:
    return "-".join(f"{name}={value}" for name, value in row.items())
