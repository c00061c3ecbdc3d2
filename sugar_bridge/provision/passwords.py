"""Users' passwords: where they come from, how Sugar wants them, where generated ones go.

A password is only ever held in memory, hashed for Sugar (``user_hash``), and — when generated —
written once to a file readable by its owner only (mode 0600). It never reaches a log line, an
exception message or the console; callers may register each one with the logging mask as a
second line of defence (``on_secret``).

Sugar accepts in ``user_hash`` (list form of ``name_value_list`` only, see the recordings
``02_user_create_list_nvl_user_hash_md5`` and ``..._bcrypt_of_md5``) either the md5 hex of the
password or a bcrypt hash of that lowercase md5 hex (what SuiteCRM itself stores). bcrypt is used
when the ``bcrypt`` package is importable, md5 otherwise or when asked for.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import string
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from sugar_bridge.provision.exceptions import PasswordError
from sugar_bridge.provision.spec import PasswordFromEnv, PasswordFromFile, PasswordSource

HashScheme = Literal["bcrypt", "md5"]

_ALPHABET = string.ascii_letters + string.digits + "-_.!@#%+="


def generate_password(length: int = 20) -> str:
    """A random password with at least one lower, upper, digit and symbol (``secrets``)."""
    while True:
        candidate = "".join(secrets.choice(_ALPHABET) for _ in range(length))
        if (
            any(c.islower() for c in candidate)
            and any(c.isupper() for c in candidate)
            and any(c.isdigit() for c in candidate)
            and any(not c.isalnum() for c in candidate)
        ):
            return candidate


def resolve_password(source: PasswordSource, user_name: str) -> str | None:
    """The clear password of an ``env``/``file`` source; None for ``generate`` (made at apply).

    Raises PasswordError naming the variable or file (never the value) when it is unusable.
    """
    if isinstance(source, PasswordFromEnv):
        value = os.environ.get(source.env)
        if not value:
            raise PasswordError(
                f"password of user {user_name!r}: environment variable {source.env} is not set"
            )
        return value
    if isinstance(source, PasswordFromFile):
        try:
            text = source.file.expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise PasswordError(
                f"password of user {user_name!r}: cannot read {source.file}: {reason}"
            ) from None
        value = text.splitlines()[0] if text.strip() else ""
        if not value:
            raise PasswordError(f"password of user {user_name!r}: {source.file} is empty")
        return value
    return None


def md5_hex(password: str) -> str:
    """Lowercase md5 hex of the password: what Sugar's login and legacy ``user_hash`` use."""
    return hashlib.md5(password.encode("utf-8")).hexdigest()  # noqa: S324 - Sugar's format


def default_scheme() -> HashScheme:
    """bcrypt when the package is installed, else md5 (both accepted by Sugar)."""
    try:
        import bcrypt  # noqa: F401
    except ImportError:
        return "md5"
    return "bcrypt"


def user_hash(password: str, scheme: HashScheme | None = None) -> str:
    """The ``user_hash`` value for Sugar: md5 hex, or bcrypt of the lowercase md5 hex."""
    digest = md5_hex(password)
    if (scheme or default_scheme()) == "md5":
        return digest
    import bcrypt

    # Cost 10 is what PHP's password_hash (PASSWORD_DEFAULT) uses, i.e. what SuiteCRM stores.
    return bcrypt.hashpw(digest.encode("ascii"), bcrypt.gensalt(rounds=10)).decode("ascii")


class PasswordFile:
    """Generated passwords, written once to a new file created with mode 0600.

    The file is created on the first password (``O_EXCL``: an existing file is never overwritten
    or appended to) and each line is flushed before the user is created in Sugar, so a crash can
    never leave a user whose generated password was lost.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0

    def add(self, user_name: str, password: str) -> None:
        """Append ``user_name<TAB>password`` (creating the file, 0600, on first use)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        if self.count == 0:
            flags |= os.O_EXCL
        try:
            fd = os.open(self.path, flags, 0o600)
        except FileExistsError:
            raise PasswordError(
                f"{self.path} already exists; generated passwords are never written over a "
                "file (pass another --passwords-file)"
            ) from None
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            if self.count == 0:
                handle.write("# user_name\tpassword (generated by sugar-bridge provision apply)\n")
            handle.write(f"{user_name}\t{password}\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.count += 1


SecretSink = Callable[[str], None]
