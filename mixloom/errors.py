"""User-facing errors: shown as one clear message by the CLI, never as a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix: bad recipe, missing file, wrong field.

    The message names the file, the key or line, and what to do.
    """


def first_line(e: BaseException, limit: int = 300) -> str:
    """An exception's message as one line for a user-facing error (its type name when it has no message)."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:limit]


class RecipeError(UserError):
    """A recipe that does not validate. `where` is the key path, e.g. `sources.fiqa.path`."""

    def __init__(self, recipe: str, where: str, problem: str, fix: str = ""):
        self.recipe, self.where, self.problem, self.fix = recipe, where, problem, fix
        msg = f"{recipe}: {where}: {problem}"
        if fix:
            msg += f"; fix: {fix}"
        super().__init__(msg)
