"""oidc-provider-mock (PyPI) as an independent OpenID provider on loopback for Sign in with ClassLink's test.

Prints `READY <port>` and serves until its standard input closes.
"""
import sys

import oidc_provider_mock

with oidc_provider_mock.run_server_in_thread(port=0, require_nonce=True) as server:
    print(f"READY {server.server_port}", flush=True)
    sys.stdin.read()
