"""Provisioning Sugar from the ``sugar:`` section of the config: plan, apply, export."""
