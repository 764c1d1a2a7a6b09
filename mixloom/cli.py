"""The `mixloom` command line. User errors print one clear message (exit 2); bugs show a traceback."""

from __future__ import annotations

import errno
import importlib
import sys
from typing import Annotated

import typer
from rich.markup import escape

from mixloom import __version__
from mixloom.errors import UserError
from mixloom.memory import configure_allocators
from mixloom.plugins import COMMANDS
from mixloom.progress import console

configure_allocators()  # before any command loads Polars

app = typer.Typer(
    name="mixloom",
    help="Declarative data-mixture recipes: curate, generate reasoning data, train, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        print(f"mixloom {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="print the version")
    ] = False,
) -> None:
    pass


for _name in COMMANDS:  # the core's commands and the stage packages', named in mixloom.plugins
    COMMANDS.get(_name)(app)

_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _click_classes(name: str) -> tuple[type, ...]:
    """Typer ships its own copy of click (`typer._click`) and its own Abort/Exit (`typer.exceptions`); catch
    all of them and click's."""
    found = []
    for mod in ("typer.exceptions", "typer._click.exceptions", "click.exceptions"):
        try:
            cls = getattr(importlib.import_module(mod), name, None)
        except ImportError:
            continue
        if cls is not None:
            found.append(cls)
    return tuple(found)


def disk_full(exc: BaseException) -> str | None:
    """The one-line message for a full disk (or a file-size limit), looking through the exception chain.

    Polars and PyArrow raise their own exception types with the OS message inside, so the text is checked too.
    """
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        text = str(e)
        if (isinstance(e, OSError) and e.errno in _DISK_FULL) or any(
            s in text for s in ("No space left on device", "Disk quota exceeded", "File too large")
        ):
            where = getattr(e, "filename", None)
            return (
                f"no space left on the device{f' writing {where}' if where else ''}: free some space "
                "(or point --out elsewhere) and run the same command again; finished work is kept"
            )
        e = e.__cause__ or e.__context__
    return None


def _usage_line(e: Exception) -> str:
    ctx = getattr(e, "ctx", None)
    hint = f" (try '{ctx.command_path} --help')" if ctx is not None else ""
    return f"{e.format_message()}{hint}"  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    no_args = _click_classes("NoArgsIsHelpError")
    usage = _click_classes("ClickException")
    abort = _click_classes("Abort")
    args = sys.argv[1:] if argv is None else argv
    if not args:  # one line, not the whole help (that is `mixloom --help`)
        names = ", ".join(c.name or "" for c in app.registered_commands)
        console.print(
            f"[bold red]error:[/] no command given; commands: {names} (try 'mixloom --help')", soft_wrap=True
        )
        return 2
    interrupted = "[bold red]interrupted[/]; run the same command again to resume"
    try:
        rc = app(args=args, standalone_mode=False)
    except UserError as e:
        console.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        return 2
    except SystemExit as e:  # typer/click exit codes
        return int(e.code or 0)
    except KeyboardInterrupt:  # outside the command; typer turns one inside it into exit code 130 (below)
        console.print(interrupted, highlight=False)
        return 130
    except Exception as e:
        if no_args and isinstance(e, no_args):
            names = ", ".join(c.name or "" for c in app.registered_commands)
            console.print(
                f"[bold red]error:[/] no command given; commands: {names} (try 'mixloom --help')",
                soft_wrap=True,
            )
            return 2
        if usage and isinstance(e, usage):
            console.print(f"[bold red]error:[/] {escape(_usage_line(e))}", highlight=False, soft_wrap=True)
            return 2
        if abort and isinstance(e, abort):
            return 1
        msg = disk_full(e)
        if msg is None and isinstance(e, PermissionError):
            msg = f"permission denied: {e.filename or e}; fix the permissions or choose another path"
        if msg is not None:
            console.print(f"[bold red]error:[/] {escape(msg)}", highlight=False, soft_wrap=True)
            return 2
        raise
    if rc == 130:  # Ctrl-C in the command (typer's KeyboardInterrupt handling returns only the code)
        console.print(interrupted, highlight=False)
    return rc if isinstance(rc, int) and not isinstance(rc, bool) else 0  # typer.Exit(code) comes back here


if __name__ == "__main__":
    sys.exit(main())
