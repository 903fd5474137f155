"""The local development signing key (Ed25519).

Published on purpose so that anyone can mint tokens for a local stack with
`chorus token`. Settings refuse it in production (chorus.kit.settings).
"""

DEV_KEY_ID = "chorus-dev-1"
DEV_ISSUER = "chorus-dev"

DEV_PRIVATE_KEY_PEM = """\
-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIAq2Z23acC5dSpEdvObxpPzu2oCaQG61Dmz6PUrQW/97
-----END PRIVATE KEY-----
"""

DEV_PUBLIC_KEY_PEM = """\
-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAW7wRT+2dPQNuR7JVZiLLGiqsCbifZsp7rlOGHZ0CP/M=
-----END PUBLIC KEY-----
"""
