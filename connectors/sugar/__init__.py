"""Sugar's legacy REST API v4_1 (SugarCRM CE 6.5, SuiteCRM 7): client, query builder, extension.

- ``client``: :class:`~connectors.sugar.client.SugarClient` (one ``call()`` for every request:
  signature-ordered parameters, typed errors, re-login, safe retries) and its ``Module`` accessor.
- ``query``: the only way to build ``query`` / ``order_by`` strings (quoted values, checked names).
- ``pool``: :class:`~connectors.sugar.pool.SessionPool`, parallel batches over several sessions.
- ``exceptions``: the error tree, each error marked transient or terminal.
- ``signatures``: the PHP signatures of the v4_1 and bridge extension methods.
- ``records`` / ``redact``: entry decoding and list-form writes; secret masking for logs.
- ``extension``: the PHP server extension (``custom/service/bridge/rest.php``).
"""
