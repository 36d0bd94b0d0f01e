"""Lambda's execution environments for the project's binaries: the Lambda Runtime API
(``/2018-06-01/runtime/...``) served by the world, and a pool of sandboxes per function.

Each part in its module: ``pool`` (every function's sandboxes within Lambda's concurrency, an
invocation's run and its timeout), ``sandbox`` (one execution environment, a process of the
function's ``bootstrap``), ``runtime_api`` (the Runtime API each sandbox's runtime calls) and
``packages`` (a deployment package whose ``bootstrap`` runs a host build: ``launcher``).
"""

from __future__ import annotations

from pathlib import Path

from world.emulator.lambda_runtime.packages import launcher
from world.emulator.lambda_runtime.pool import ACCOUNT_CONCURRENCY, Pool, TooManyRequests

# what the world's Lambda (world.emulator.lambdas), world.stack and bench.scaler use
__all__ = ["ACCOUNT_CONCURRENCY", "Pool", "TooManyRequests", "launcher"]

REPO = Path(__file__).resolve().parents[4]
