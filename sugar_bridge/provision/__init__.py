"""Provisioning Sugar from the ``sugar:`` section of the config: plan, apply, export.

Entry points (kept out of this ``__init__`` so that loading the config does not import the client):

- ``sugar_bridge.provision.spec.SugarSpec`` — the validated spec (``load_config(path).sugar``);
- ``sugar_bridge.provision.plan.plan(client, spec, prune=False) -> Plan`` — reads Sugar, returns
  the diff; ``Plan.has_changes`` is the drift check (``Plan.changes``, ``Plan.blockers``,
  ``Plan.notes`` for the details);
- ``sugar_bridge.provision.apply.apply(client, spec, passwords_file=..., prune=False)
  -> ApplyResult`` — makes Sugar match the spec (no write when there is nothing to do);
- ``sugar_bridge.provision.export.export(client) -> Export`` — the current state as a spec.

Errors: ``sugar_bridge.provision.exceptions`` (PlanBlocked, PasswordError, ApplyFailed).
"""
