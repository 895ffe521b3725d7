"""``govtrust portal``: operator accounts of the web portal.

``govtrust portal user add NAME --role operator`` asks for the password twice (or reads
one line from standard input when it is not a terminal, for scripts); ``user list``;
``user disable NAME`` (its sessions end at once); ``user password NAME``.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from rich.table import Table

from govtrust.cli._common import App, JsonOpt, actor, open_context, out, print_json
from govtrust.errors import InputError
from govtrust.services import portal_users

__all__ = ["portal_app"]

portal_app = App(help="The web portal: operator accounts.", no_args_is_help=True)
user_app = App(help="Operator accounts (login to /en/operator).", no_args_is_help=True)
portal_app.add_typer(user_app, name="user")


def _password() -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InputError("no password on standard input")
        return line
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise InputError("the passwords differ")
    return first


@user_app.command("add")
def add(
    name: str,
    role: Annotated[str, typer.Option(help="auditor, operator or admin")] = "operator",
) -> None:
    """Create an operator account; the password is read from a prompt or stdin."""
    password = _password()
    with open_context() as ctx:
        user = portal_users.create_user(ctx, name, role, password, actor())
    out.print(f"portal user {user.name} created ({user.role})")


@user_app.command("list")
def list_(json_: JsonOpt = False) -> None:
    """Every operator account."""
    with open_context() as ctx:
        users = portal_users.list_users(ctx)
    if json_:
        print_json(
            [
                {
                    "name": u.name,
                    "role": u.role,
                    "disabled": u.disabled,
                    "created_at": u.created_at.isoformat(),
                    "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
                }
                for u in users
            ]
        )
        return
    table = Table("name", "role", "state", "last login")
    for u in users:
        table.add_row(
            u.name,
            u.role,
            "disabled" if u.disabled else "active",
            u.last_login_at.isoformat(timespec="seconds") if u.last_login_at else "never",
        )
    out.print(table)


@user_app.command("disable")
def disable(name: str) -> None:
    """Disable an account: no more logins, open sessions end."""
    with open_context() as ctx:
        portal_users.disable_user(ctx, name, actor())
    out.print(f"portal user {name} disabled")


@user_app.command("password")
def password(name: str) -> None:
    """Set a new password (read from a prompt or stdin); open sessions end."""
    secret = _password()
    with open_context() as ctx:
        portal_users.set_password(ctx, name, secret, actor())
    out.print(f"password of portal user {name} changed")
