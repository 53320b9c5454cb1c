"""`twinmcp users`, `keys` and `usage`: auth's users, their API keys and their requests."""

from __future__ import annotations

import argparse

from rich.table import Table
from twinmcp.auth.v1 import auth_pb2, auth_pb2_grpc
from twinmcp.cli.config import CliSettings
from twinmcp.cli.output import console
from twinmcp.runtime.channels import open_channel

TIERS = {"free": auth_pb2.TIER_FREE, "premium": auth_pb2.TIER_PREMIUM}


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users_parser = sub.add_parser("users", help="manage users")
    users_parser.set_defaults(handler=users)
    actions = users_parser.add_subparsers(dest="action", required=True)
    create_user = actions.add_parser("create")
    create_user.add_argument("login")
    create_user.add_argument("--email", default="")
    create_user.add_argument("--tier", choices=sorted(TIERS), default="free")
    create_user.add_argument("--admin", action="store_true")
    actions.add_parser("list", help="every user, with id, tier and admin flag")

    keys_parser = sub.add_parser("keys", help="manage API keys")
    keys_parser.set_defaults(handler=keys)
    actions = keys_parser.add_subparsers(dest="action", required=True)
    create_key = actions.add_parser("create")
    create_key.add_argument("--user-id", required=True)
    create_key.add_argument("--name", default="cli")
    create_key.add_argument("--scope", action="append", choices=["read", "admin"], default=[])
    list_keys = actions.add_parser("list")
    list_keys.add_argument("--user-id", required=True)
    revoke = actions.add_parser("revoke")
    revoke.add_argument("--user-id", required=True)
    revoke.add_argument("key_id")

    usage_parser = sub.add_parser("usage", help="requests per key and day")
    usage_parser.add_argument("--user-id", required=True)
    usage_parser.add_argument("--days", type=int, default=30)
    usage_parser.set_defaults(handler=usage)


async def users(args: argparse.Namespace, settings: CliSettings) -> int:
    if args.action == "list":
        return await _list_users(settings)
    async with open_channel(settings.auth_addr) as channel:
        reply = await auth_pb2_grpc.AuthServiceStub(channel).CreateUser(
            auth_pb2.CreateUserRequest(
                login=args.login, email=args.email, tier=TIERS[args.tier], is_admin=args.admin
            ),
            timeout=settings.deadline_seconds,
        )
    console.print(f"user {reply.user.login}: id {reply.user.user_id}")
    return 0


async def _list_users(settings: CliSettings) -> int:
    table = Table("login", "id", "tier", "admin", "created")
    async with open_channel(settings.auth_addr) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        token = ""
        while True:
            page = await stub.ListUsers(
                auth_pb2.ListUsersRequest(page_size=1000, page_token=token),
                timeout=settings.deadline_seconds,
            )
            for user in page.users:
                table.add_row(
                    user.login,
                    user.user_id,
                    auth_pb2.Tier.Name(user.tier).removeprefix("TIER_").lower(),
                    "yes" if user.is_admin else "",
                    user.created_at.ToJsonString()[:10] if user.HasField("created_at") else "",
                )
            token = page.next_page_token
            if not token:
                break
    console.print(table)
    return 0


async def keys(args: argparse.Namespace, settings: CliSettings) -> int:
    async with open_channel(settings.auth_addr) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        if args.action == "create":
            created = await stub.CreateApiKey(
                auth_pb2.CreateApiKeyRequest(
                    user_id=args.user_id, name=args.name, scopes=args.scope or ["read"]
                ),
                timeout=settings.deadline_seconds,
            )
            console.print(
                f"key {created.key.key_id} ({', '.join(created.key.scopes)}); "
                "copy it now, it is not shown again:"
            )
            console.print(created.secret, markup=False, highlight=False)
        elif args.action == "list":
            listed = await stub.ListApiKeys(
                auth_pb2.ListApiKeysRequest(user_id=args.user_id), timeout=settings.deadline_seconds
            )
            table = Table("key", "prefix", "name", "scopes", "created", "last used", "revoked")
            for key in listed.keys:
                table.add_row(
                    key.key_id,
                    key.prefix,
                    key.name,
                    ",".join(key.scopes),
                    key.created_at.ToJsonString() if key.HasField("created_at") else "",
                    key.last_used_at.ToJsonString() if key.HasField("last_used_at") else "",
                    "yes" if key.is_revoked else "",
                )
            console.print(table)
        else:
            await stub.RevokeApiKey(
                auth_pb2.RevokeApiKeyRequest(user_id=args.user_id, key_id=args.key_id),
                timeout=settings.deadline_seconds,
            )
            console.print(f"revoked {args.key_id}")
    return 0


async def usage(args: argparse.Namespace, settings: CliSettings) -> int:
    async with open_channel(settings.auth_addr) as channel:
        reply = await auth_pb2_grpc.AuthServiceStub(channel).GetUsage(
            auth_pb2.GetUsageRequest(user_id=args.user_id, days=args.days),
            timeout=settings.deadline_seconds,
        )
    table = Table("date", "key", "requests")
    for day in reply.days:
        table.add_row(day.date, day.key_id, str(day.requests))
    console.print(table)
    return 0
