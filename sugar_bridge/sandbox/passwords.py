"""Sugar's password handling as the sandbox needs it: the md5 login hash, stored-hash checks
(bcrypt of the md5 as SuiteCRM stores it, or a legacy md5 hex) and the demo admin."""

from __future__ import annotations

import hashlib
import secrets

from sugar_bridge.sandbox.store import Store, now_db


def md5_hex(text: str) -> str:
    """Sugar's login hash: md5 of the password, lowercase hex."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()  # noqa: S324 - Sugar's protocol, not ours


def check_hash(md5_password: str, stored: str | None, bcrypt_ok: bool) -> bool:
    """User::checkPasswordMD5: bcrypt of the md5 (what SuiteCRM stores) or a legacy 32-hex md5."""
    if not stored:
        return False
    candidate = md5_password.lower()
    if stored.startswith("$2"):
        if not bcrypt_ok:
            return False
        import bcrypt

        try:
            return bool(bcrypt.checkpw(candidate.encode(), ("$2b" + stored[3:]).encode()))
        except ValueError:
            return False
    if stored.startswith("$"):
        return False  # crypt() of the plain password: Sugar verifies md5 against it and fails
    return len(stored) == 32 and secrets.compare_digest(stored.lower(), candidate)


def bcrypt_available() -> bool:
    """Whether ``bcrypt`` is importable (bcrypt-of-md5 hashes are then accepted at login)."""
    try:
        import bcrypt  # noqa: F401
    except ImportError:
        return False
    return True


def seed_admin(store: Store, password: str) -> None:
    """The demo admin (id '1', like Sugar's), its hash as SuiteCRM stores it when bcrypt is
    there."""
    digest = md5_hex(password)
    stored = digest
    if bcrypt_available():
        import bcrypt

        stored = (
            bcrypt.hashpw(digest.encode(), bcrypt.gensalt(rounds=4))
            .decode()
            .replace("$2b$", "$2y$", 1)
        )
    ts = now_db()
    with store.transaction():
        if store.rows("SELECT 1 FROM users WHERE id = '1'"):
            store.execute("UPDATE users SET user_hash = ? WHERE id = '1'", (stored,))
            return
        store.execute(
            "INSERT INTO users (id, user_name, user_hash, first_name, last_name, is_admin, status,"
            " date_entered, date_modified, created_by, modified_user_id, deleted, sugar_login,"
            " employee_status) VALUES ('1', 'admin', ?, '', 'Administrator', 1, 'Active', ?, ?,"
            " '1',"
            " '1', 0, 1, 'Active')",
            (stored, ts, ts),
        )
