"""The `mixloom` command line. User errors print one clear message (exit 2); bugs show a traceback."""

from __future__ import annotations

import sys

import typer

from mixloom.errors import UserError
from mixloom.plugins import COMMANDS
from mixloom.progress import console

app = typer.Typer(
    name="mixloom",
    help="Declarative data-mixture recipes: curate, generate reasoning data, train, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _name in COMMANDS:  # the core's commands and the stage packages', named in mixloom.plugins
    COMMANDS.get(_name)(app)


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except UserError as e:
        console.print(f"[bold red]error:[/] {e}", highlight=False)
        return 2
    except SystemExit as e:  # typer/click exit codes
        return int(e.code or 0)
    except Exception as e:  # click usage errors carry their own message
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            return e.exit_code
        if isinstance(e, click.exceptions.Abort):
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
