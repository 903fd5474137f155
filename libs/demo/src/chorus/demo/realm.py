"""The local identity provider's realm: the demo tenant's people, who sign in
to the hub with a password, and the hub's client. The local stack writes it
where Keycloak imports it at every start (deploy/local/stack.sh).

    chorus-demo-realm --hub http://127.0.0.1:8060 --out <keycloak>/data/import/chorus.json

One realm JSON configures everything: a public client with PKCE (S256);
the `tenant`, `roles` and `groups` user attributes mapped into the access and
ID tokens (lists as JSON lists), the services' audience `chorus` on the access
token, and a user profile that keeps attributes it does not declare (Keycloak
drops them on import otherwise). A user's id is their name, so the token's
`sub` is the advocate id the services know.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from chorus.demo.seed import (
    ADMIN,
    ADVOCATES,
    APPROVER,
    CURATOR,
    DEMO_PASSWORD,
    HUB_URL,
    TENANT,
    advocate_groups,
)

REALM = "chorus"
HUB_CLIENT = "chorus-hub"
LOOPBACK = "http://127.0.0.1:"


def people() -> list[tuple[str, list[str], list[str]]]:
    """(name, roles, groups) of everyone in the demo tenant."""
    staff: list[tuple[str, list[str], list[str]]] = [
        (ADMIN, ["admin"], []),
        (CURATOR, ["curator"], []),
        (APPROVER, ["approver"], []),
    ]
    return staff + [
        (name, ["advocate"], advocate_groups(index)) for index, name in enumerate(ADVOCATES)
    ]


def _attribute_mapper(name: str, *, multivalued: bool) -> dict[str, Any]:
    return {
        "name": name,
        "protocol": "openid-connect",
        "protocolMapper": "oidc-usermodel-attribute-mapper",
        "config": {
            "user.attribute": name,
            "claim.name": name,
            "jsonType.label": "String",
            "multivalued": str(multivalued).lower(),
            "id.token.claim": "true",
            "access.token.claim": "true",
            "userinfo.token.claim": "true",
        },
    }


def _declared(name: str) -> dict[str, Any]:
    """An attribute of the user profile: people see theirs, only admins edit."""
    return {
        "name": name,
        "displayName": "${" + name + "}",
        "permissions": {"view": ["admin", "user"], "edit": ["admin"]},
    }


def _user(name: str, roles: list[str], groups: list[str]) -> dict[str, Any]:
    # Keycloak asks for a profile update at sign-in without email and names.
    first, _, last = name.partition("-")
    return {
        "id": name,
        "username": name,
        "enabled": True,
        "email": f"{name}@{TENANT}.example",
        "emailVerified": True,
        "firstName": first.capitalize(),
        "lastName": last or TENANT.capitalize(),
        "attributes": {"tenant": [TENANT], "roles": roles, "groups": groups},
        "credentials": [{"type": "password", "value": DEMO_PASSWORD, "temporary": False}],
        "requiredActions": [],
    }


def realm(hub_url: str) -> dict[str, Any]:
    hub = hub_url.rstrip("/")
    profile = {
        "attributes": [_declared(name) for name in ("username", "email", "firstName", "lastName")],
        "unmanagedAttributePolicy": "ADMIN_EDIT",
    }
    return {
        "realm": REALM,
        "enabled": True,
        "internationalizationEnabled": True,
        "supportedLocales": ["en", "it"],
        "defaultLocale": "en",
        "accessTokenLifespan": 300,
        "ssoSessionIdleTimeout": 1800,
        "ssoSessionMaxLifespan": 36000,
        "clients": [
            {
                "clientId": HUB_CLIENT,
                "name": "Chorus hub",
                "enabled": True,
                "publicClient": True,
                "standardFlowEnabled": True,
                "directAccessGrantsEnabled": False,
                "implicitFlowEnabled": False,
                # A hub on any loopback port too (the tests start their own).
                "redirectUris": [f"{hub}/auth/callback", f"{LOOPBACK}*"],
                "webOrigins": [hub],
                "attributes": {
                    "pkce.code.challenge.method": "S256",
                    "post.logout.redirect.uris": f"{hub}/*##{LOOPBACK}*",
                },
                "protocolMappers": [
                    _attribute_mapper("tenant", multivalued=False),
                    _attribute_mapper("roles", multivalued=True),
                    _attribute_mapper("groups", multivalued=True),
                    {
                        "name": "chorus audience",
                        "protocol": "openid-connect",
                        "protocolMapper": "oidc-audience-mapper",
                        "config": {
                            "included.custom.audience": "chorus",
                            "access.token.claim": "true",
                            "id.token.claim": "false",
                        },
                    },
                ],
            }
        ],
        "components": {
            "org.keycloak.userprofile.UserProfileProvider": [
                {
                    "providerId": "declarative-user-profile",
                    "subComponents": {},
                    "config": {"kc.user.profile.config": [json.dumps(profile)]},
                }
            ]
        },
        "users": [_user(*person) for person in people()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hub", default=HUB_URL, help="the hub's public URL")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(realm(args.hub), indent=1))


if __name__ == "__main__":
    main()
