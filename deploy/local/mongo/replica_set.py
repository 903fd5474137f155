"""Make the local mongod a one-member replica set and wait until it is primary.

Idempotent: a member that already belongs to a replica set is left as it is.
Transactions and change streams need a replica set; one member is enough.
Run by deploy/local/stack.sh with the project's virtual environment (PyMongo).
"""

from __future__ import annotations

import argparse
import sys
import time

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

NOT_YET_INITIALIZED = 94


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=27017)
    parser.add_argument("--name", default="rs0")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    member = f"127.0.0.1:{args.port}"
    client: MongoClient[dict[str, object]] = MongoClient(
        member, directConnection=True, serverSelectionTimeoutMS=5000
    )
    deadline = time.monotonic() + max(args.timeout, 5)
    last_error = ""
    while time.monotonic() < deadline:
        try:
            try:
                status = client.admin.command("replSetGetStatus")
                if status.get("set") != args.name:
                    print(
                        f"stack: mongod on {member} belongs to replica set {status.get('set')!r},"
                        f" not {args.name!r}: 'make stack-reset' starts afresh",
                        file=sys.stderr,
                    )
                    return 1
            except OperationFailure as error:
                if error.code != NOT_YET_INITIALIZED:
                    raise
                client.admin.command(
                    "replSetInitiate",
                    {"_id": args.name, "members": [{"_id": 0, "host": member}]},
                )
            if client.admin.command("hello").get("isWritablePrimary"):
                return 0
            last_error = "the member is not primary yet"
        except PyMongoError as error:
            last_error = str(error)
        time.sleep(0.3)
    print(f"stack: mongod on {member} did not become primary: {last_error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
