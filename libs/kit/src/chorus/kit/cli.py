"""The `chorus` command: mint development tokens, manage topics and dead letters.

chorus token --tenant acme --sub alice --role advocate --group sales
chorus topics create|list|manifests|delete [--prefix bench-1.]
chorus dlq list|replay <group> [--dry-run] [--limit N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from chorus.kit.admin import delete_namespace, ensure_topics, kafka_topic_manifests, topic_specs
from chorus.kit.auth import Role, mint_token
from chorus.kit.devkey import DEV_ISSUER, DEV_KEY_ID, DEV_PRIVATE_KEY_PEM
from chorus.kit.dlq import read_dead_letters


def _token(args: argparse.Namespace) -> int:
    key = DEV_PRIVATE_KEY_PEM
    key_id: str | None = DEV_KEY_ID
    # The development key signs as its own issuer, which services trust beside
    # a provider's; a key of your own signs as CHORUS_JWT_ISSUER unless told.
    issuer = args.issuer or DEV_ISSUER
    if args.key_file:
        with open(args.key_file) as handle:
            key = handle.read()
        key_id = args.key_id
        issuer = args.issuer or os.environ.get("CHORUS_JWT_ISSUER", DEV_ISSUER)
    print(
        mint_token(
            private_key_pem=key,
            tenant=args.tenant,
            subject=args.sub,
            roles=args.role,
            groups=args.group,
            issuer=issuer,
            audience=args.audience,
            ttl_seconds=args.ttl,
            key_id=key_id,
        )
    )
    return 0


def _topics(args: argparse.Namespace) -> int:
    if args.action == "list":
        for spec in topic_specs(args.prefix):
            print(f"{spec.name}\tpartitions={spec.partitions}\tretention_ms={spec.retention_ms}")
        return 0
    if args.action == "manifests":
        print(kafka_topic_manifests(args.replication, args.cluster), end="")
        return 0
    if args.action == "delete":
        if not args.prefix:
            print("chorus topics delete: needs --prefix (a namespace)", file=sys.stderr)
            return 1
        deleted = asyncio.run(delete_namespace(args.bootstrap, args.prefix))
        print(f"deleted {len(deleted)} topic(s) of the namespace {args.prefix!r}")
        return 0
    specs = topic_specs(args.prefix)
    created = asyncio.run(ensure_topics(args.bootstrap, specs, replication_factor=args.replication))
    print(f"created {len(created)} topic(s)" + (f": {', '.join(created)}" if created else ""))
    return 0


def _dlq(args: argparse.Namespace) -> int:
    replay = args.action == "replay" and not args.dry_run
    try:
        letters = asyncio.run(
            read_dead_letters(args.bootstrap, args.group, replay=replay, limit=args.limit)
        )
    except (LookupError, ValueError) as exc:
        print(f"chorus dlq: {exc}", file=sys.stderr)
        return 1
    for letter in letters:
        print(letter.summary())
    done = "replayed to their origin topics" if replay else "not replayed yet"
    print(f"{len(letters)} dead letter(s) of {args.group} {done}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="chorus", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    token = sub.add_parser("token", help="mint a JWT (development key unless --key-file)")
    token.add_argument("--tenant", required=True)
    token.add_argument("--sub", required=True, help="the user id (an advocate's id)")
    token.add_argument(
        "--role",
        action="append",
        default=[],
        choices=[r.value for r in Role],
        help="repeat for several roles",
    )
    token.add_argument("--group", action="append", default=[], help="repeat for several groups")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="seconds (default 12 h)")
    token.add_argument("--issuer", help="default: the development key's own, chorus-dev")
    token.add_argument("--audience", default=os.environ.get("CHORUS_JWT_AUDIENCE", "chorus"))
    token.add_argument("--key-file", help="PEM private key (Ed25519 or RSA) instead of the dev key")
    token.add_argument("--key-id", help="kid header for --key-file")
    token.set_defaults(run=_token)

    topics = sub.add_parser(
        "topics", help="list or create the Kafka topics, or print them as Strimzi KafkaTopics"
    )
    topics.add_argument("action", choices=["create", "list", "manifests", "delete"])
    topics.add_argument(
        "--prefix",
        default=os.environ.get("CHORUS_TOPIC_PREFIX", ""),
        help="the namespace every name starts with (create, list, delete)",
    )
    topics.add_argument(
        "--bootstrap", default=os.environ.get("CHORUS_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    topics.add_argument("--replication", type=int, default=1)
    topics.add_argument("--cluster", default="chorus", help="Strimzi cluster (manifests)")
    topics.set_defaults(run=_topics)

    dlq = sub.add_parser(
        "dlq", help="list a group's dead letters, or replay them to their origin topics"
    )
    dlq.add_argument("action", choices=["list", "replay"])
    dlq.add_argument("group", help="the consumer group, e.g. distribution (topic dlq.<group>)")
    dlq.add_argument("--limit", type=int, help="at most this many, oldest first")
    dlq.add_argument("--dry-run", action="store_true", help="replay: only list what would go")
    dlq.add_argument(
        "--bootstrap", default=os.environ.get("CHORUS_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    dlq.set_defaults(run=_dlq)

    args = parser.parse_args(argv)
    if args.command == "token" and not args.role:
        parser.error("token needs at least one --role")
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
