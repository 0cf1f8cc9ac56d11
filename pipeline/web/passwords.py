"""Officers' passwords for the web desk: Argon2id hashes (argon2-cffi), never the passwords themselves.

``python -m pipeline.web.passwords`` asks for a password twice and prints the hash to put in
``[[web.accounts]] password_hash``.
"""

from __future__ import annotations

import getpass
import sys

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# spent on unknown accounts too, so that timing does not tell which officer ids exist
DUMMY_HASH = hash_password("qamqor-no-such-account")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print("usage: python -m pipeline.web.passwords   (asks for the password; or pipe it on stdin)")
        return 0
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            print("the two passwords differ", file=sys.stderr)
            return 2
    else:
        first = sys.stdin.readline().rstrip("\n")
    if len(first) < 8:
        print("a password needs at least 8 characters", file=sys.stderr)
        return 2
    print(hash_password(first))
    return 0


if __name__ == "__main__":
    sys.exit(main())
