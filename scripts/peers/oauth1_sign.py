#!/usr/bin/env python3
"""Signs requests with oauthlib (an independent OAuth 1.0a implementation) for RosterFlow's signer tests.

Reads one JSON object per line on stdin: {"method", "url", "key", "secret", "nonce", "timestamp"}; writes one JSON
line per request: {"signature": the oauth_signature oauthlib computed, "header": its Authorization header}.
"""
import json, sys
from urllib.parse import unquote
from oauthlib import oauth1

for line in sys.stdin:
    if not line.strip():
        continue
    r = json.loads(line)
    client = oauth1.Client(r["key"], client_secret=r["secret"], signature_method=oauth1.SIGNATURE_HMAC_SHA256,
                           signature_type=oauth1.SIGNATURE_TYPE_AUTH_HEADER, nonce=r["nonce"], timestamp=str(r["timestamp"]))
    _, headers, _ = client.sign(r["url"], http_method=r["method"])
    header = headers["Authorization"]
    params = {}
    for item in header[len("OAuth "):].split(","):
        k, _, v = item.strip().partition("=")
        params[k] = unquote(v.strip('"'))
    print(json.dumps({"signature": params["oauth_signature"], "header": header}), flush=True)
