"""The CLI tests borrow the doubles of the packages they drive: a provisioned sandbox (the push
tests') and Sugar's HTTP mocked at the transport (the client tests')."""

from tests.connectors.sugar.conftest import mock
from tests.sugar_bridge.push.conftest import sandbox

__all__ = ["mock", "sandbox"]
