"""Changes a test makes to its copy of a rendered file, to run it here:
each must find the text it changes, so that a template change which moves
that text fails the test loudly instead of leaving the file as rendered."""


def replace_required(text: str, old: str, new: str, what: str) -> str:
    if old not in text:
        raise AssertionError(f"{what} no longer contain {old!r}")
    return text.replace(old, new)
