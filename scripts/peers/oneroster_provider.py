#!/usr/bin/env python3
"""A OneRoster REST provider on loopback for RosterFlow's tests and `rosterflow-bench rest` (standard library only).

Serves a generated district (orgs, academicSessions, courses, classes, users, demographics, enrollments) under
/ims/oneroster/v1p1 (1.1) or /ims/oneroster/rostering/v1p2 (1.2), with limit/offset paging, `filter` on
dateLastModified (`>`, `>=`), X-Total-Count and/or Link headers, and verifies each request as a provider would:

- OAuth 1.0a one-legged HMAC-SHA256 (--auth oauth1): recomputes the signature over the method, base URL, query
  parameters and oauth_* parameters (RFC 5849), and refuses a wrong signature, an unknown consumer key, a nonce seen
  before (replay) and a timestamp more than 300 s from now;
- OAuth 2 client credentials (--auth oauth2): POST /token with HTTP Basic (or form) credentials issues a bearer token
  valid --token-ttl seconds; --revoke-after N drops every token after N API requests (the client must refresh once).

Faults (--fault, repeatable) as KIND@ENTITY:PAGE[:COUNT]: `429` (with Retry-After: 1), `500`, `truncate` (a page cut
off mid-JSON), `error` (HTTP 400 with an imsx_codeMajor payload wrapped in statusInfoSet), `forbidden` (403), `repeat`
(the page also carries the collection's first record again, modified a day later: records shifting under a pull); COUNT
is how many times (default 1; 0 = always).

Prints `READY <port>` on stdout once listening; writes one JSON line per request to --out.
GET /control/touch?entity=users&sourcedId=ID&field=givenName&value=X changes a record and bumps its dateLastModified
(no auth; for delta tests). GET /control/stats answers the request counts.
"""
import argparse, base64, hashlib, hmac, json, secrets, sys, threading, time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote_plus, urlsplit

ENTITIES = ["orgs", "academicSessions", "courses", "classes", "users", "demographics", "enrollments"]


def pct(text):
    return quote(text, safe="-._~")


def iso(ts):
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def ref(kind, sid, base):
    return {"href": f"{base}/{kind}s/{sid}", "sourcedId": sid, "type": kind}


class LazyList:
    """A read-only list whose i-th item is made when asked for (a big district without holding it in memory)."""

    def __init__(self, count, make):
        self.count, self.make = count, make

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self.make(i) for i in range(*index.indices(self.count))]
        return self.make(index)

    def __iter__(self):
        return (self.make(i) for i in range(self.count))


def generate(args, base):
    """The district: deterministic for the same arguments."""
    t0 = 1767225600  # 2026-01-01T00:00:00Z
    stamp = iso(t0)
    v12 = args.version == "1.2"
    data = {e: [] for e in ENTITIES}
    schools = max(1, args.schools)
    data["orgs"].append({"sourcedId": "org-d", "status": "active", "dateLastModified": stamp, "name": "Test District",
                         "type": "district", "identifier": "D1", "parent": None, "children": []})
    for s in range(1, schools + 1):
        data["orgs"].append({"sourcedId": f"org-s{s}", "status": "active", "dateLastModified": stamp,
                             "name": f"School {s}", "type": "school", "identifier": f"S{s}",
                             "parent": ref("org", "org-d", base)})
    data["academicSessions"] += [
        {"sourcedId": "as-y", "status": "active", "dateLastModified": stamp, "title": "2026-2027", "type": "schoolYear",
         "startDate": "2026-08-15", "endDate": "2027-06-30", "parent": None, "schoolYear": "2027"},
        {"sourcedId": "as-t1", "status": "active", "dateLastModified": stamp, "title": "Fall", "type": "term",
         "startDate": "2026-08-15", "endDate": "2027-01-15", "parent": ref("academicSession", "as-y", base), "schoolYear": 2027},
    ]
    courses = max(1, args.classes // 4)
    for c in range(1, courses + 1):
        data["courses"].append({"sourcedId": f"crs-{c}", "status": "active", "dateLastModified": stamp,
                                "title": f"Course {c}", "courseCode": f"C{c}", "grades": ["07"],
                                "org": ref("org", f"org-s{(c - 1) % schools + 1}", base),
                                "schoolYear": ref("academicSession", "as-y", base), "subjects": ["Science"]})
    for k in range(1, args.classes + 1):
        c = (k - 1) % courses + 1
        school = f"org-s{(c - 1) % schools + 1}"
        cls = {"sourcedId": f"cls-{k}", "status": "active", "dateLastModified": stamp, "title": f"Class {k}",
               "classCode": f"K{k}", "classType": "scheduled", "location": f"Room {k}", "grades": ["07"],
               "course": ref("course", f"crs-{c}", base), "school": ref("org", school, base),
               "terms": [ref("academicSession", "as-t1", base)], "periods": ["1"]}
        if args.quirks and k == 1:
            cls["classCode"] = "Y7-Jackson,W"          # a value with a comma
            cls["course"] = f"crs-{c}"                 # a bare id instead of a GUIDRef
            cls["metadata"] = {"sis.room": "B12", "sis.capacity": 30}
        data["classes"].append(cls)
    teachers = args.classes
    students = max(0, args.users - teachers)
    def user(sid, role, given, family, school, n):
        u = {"sourcedId": sid, "status": "active", "dateLastModified": stamp, "username": sid,
             "enabledUser": "true", "givenName": given, "familyName": family, "email": f"{sid}@example.org",
             "userIds": [{"type": "SIS", "identifier": sid.upper()}], "grades": ["07"] if role == "student" else []}
        if v12:
            u["roles"] = [{"roleType": "primary", "role": role, "org": ref("org", school, base)}]
            u["primaryOrg"] = ref("org", school, base)
        else:
            u["role"] = role
            u["orgs"] = [ref("org", school, base)]
        if args.quirks and n == 1:
            u["enabledUser"] = True                     # a JSON boolean where the spec has a string
            u["dateLastModified"] = "2026-01-01"         # date only
            u["metadata"] = {"sis.homeroom": "7B"}
        return u
    def make_user(i):
        if i < teachers:
            return user(f"t-{i + 1}", "teacher", f"Teacher{i + 1}", "Smith", "org-s1", i + 1)
        n = i - teachers + 1
        return user(f"s-{n}", "student", f"Student{n}", "Jones", "org-s1", n)
    per = args.enrollments_per_student
    def make_enrollment(i):
        if i < teachers:
            t = i + 1
            return {"sourcedId": f"enr-t-{t}", "status": "active", "dateLastModified": stamp,
                    "class": ref("class", f"cls-{t}", base), "school": ref("org", "org-s1", base),
                    "user": ref("user", f"t-{t}", base), "role": "teacher", "primary": "true"}
        s, j = divmod(i - teachers, per)
        s += 1
        k = (s + j * 7 - 1) % args.classes + 1
        return {"sourcedId": f"enr-s-{s}-{j}", "status": "active", "dateLastModified": stamp,
                "class": ref("class", f"cls-{k}", base), "school": ref("org", "org-s1", base),
                "user": ref("user", f"s-{s}", base), "role": "student", "primary": False}
    users = LazyList(teachers + students, make_user)
    enrollments = LazyList(teachers + students * per, make_enrollment)
    data["users"] = users if args.lazy else list(users)
    data["enrollments"] = enrollments if args.lazy else list(enrollments)
    for s in range(1, min(students, 20) + 1):
        data["demographics"].append({"sourcedId": f"s-{s}", "status": "active", "dateLastModified": stamp,
                                     "birthDate": "2014-03-01", "sex": "female", "white": True, "asian": "false"})
    return data


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.nonces = set()
        self.tokens = {}
        self.api_requests = 0
        self.counts = {}
        self.faults = []
        for spec in args.fault:
            kind, where = spec.split("@", 1)
            parts = where.split(":")
            self.faults.append({"kind": kind, "entity": parts[0], "page": int(parts[1]),
                                "left": int(parts[2]) if len(parts) > 2 else 1})
        self.root = "/ims/oneroster/v1p1" if args.version == "1.1" else "/ims/oneroster/rostering/v1p2"
        self.data = None
        self.out = open(args.out, "a", buffering=1) if args.out else None

    def log(self, record):
        if self.out:
            with self.lock:
                self.out.write(json.dumps(record) + "\n")


def imsx(major, minor, description, wrap=False):
    status = {"imsx_codeMajor": major, "imsx_severity": "error", "imsx_description": description,
              "imsx_CodeMinor": {"imsx_codeMinorField": [{"imsx_codeMinorFieldName": "TargetEndSystem",
                                                          "imsx_codeMinorFieldValue": minor}]}}
    return {"statusInfoSet": [status]} if wrap else status


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "OneRosterTestProvider/1"

    def log_message(self, *a):
        pass

    @property
    def state(self):
        return self.server.state

    def send_json(self, status, body, headers=None, raw=None):
        data = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def params(self):
        split = urlsplit(self.path)
        pairs = []
        if split.query:
            for part in split.query.split("&"):
                if not part:
                    continue
                k, _, v = part.partition("=")
                pairs.append((unquote_plus(k), unquote_plus(v)))
        return split.path, pairs

    # --- auth -------------------------------------------------------------------------------------------------

    def check_oauth1(self, path, pairs):
        header = self.headers.get("Authorization", "")
        if not header.startswith("OAuth "):
            return "no OAuth header"
        oauth = {}
        for item in header[6:].split(","):
            k, _, v = item.strip().partition("=")
            oauth[unquote_plus(k)] = unquote_plus(v.strip('"'))
        a = self.state.args
        if oauth.get("oauth_consumer_key") != a.client_id:
            return "unknown consumer key"
        if oauth.get("oauth_signature_method") != "HMAC-SHA256":
            return "signature method"
        try:
            ts = int(oauth.get("oauth_timestamp", ""))
        except ValueError:
            return "bad timestamp"
        if abs(time.time() - ts) > 300:
            return "stale timestamp"
        nonce = oauth.get("oauth_nonce", "")
        if not nonce:
            return "no nonce"
        all_params = [(k, v) for k, v in oauth.items() if k != "oauth_signature"] + pairs
        norm = "&".join(f"{k}={v}" for k, v in sorted((pct(k), pct(v)) for k, v in all_params))
        host = self.headers.get("Host")
        base = "GET&" + pct(f"http://{host}{path}") + "&" + pct(norm)
        key = (pct(a.secret) + "&").encode()
        expected = base64.b64encode(hmac.new(key, base.encode(), hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, oauth.get("oauth_signature", "")):
            return "bad signature"
        with self.state.lock:
            if (ts, nonce) in self.state.nonces:
                return "replayed nonce"
            self.state.nonces.add((ts, nonce))
        return None

    def check_bearer(self):
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return "no bearer token"
        token = header[7:]
        with self.state.lock:
            expires = self.state.tokens.get(token)
        if expires is None or expires < time.time():
            return "unknown or expired token"
        return None

    def do_POST(self):
        path, _ = self.params()
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        if path != "/token":
            return self.send_json(404, imsx("failure", "unknownobject", "no such endpoint"))
        a = self.state.args
        form = dict((unquote_plus(k), unquote_plus(v)) for k, _, v in (p.partition("=") for p in body.split("&") if p))
        cid, secret = form.get("client_id"), form.get("client_secret")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            cid, secret = unquote_plus(cid), unquote_plus(secret)
        ok = form.get("grant_type") == "client_credentials" and cid == a.client_id and secret == a.secret
        if a.scope and form.get("scope") != a.scope:
            ok = False
        self.state.log({"method": "POST", "path": path, "status": 200 if ok else 401, "scope": form.get("scope")})
        if not ok:
            return self.send_json(401, {"error": "invalid_client", "error_description": "bad client credentials"})
        token = secrets.token_urlsafe(24)
        with self.state.lock:
            self.state.tokens[token] = time.time() + a.token_ttl
        self.send_json(200, {"access_token": token, "token_type": "bearer", "expires_in": a.token_ttl,
                             "scope": form.get("scope", "")})

    # --- data -------------------------------------------------------------------------------------------------

    def do_GET(self):
        path, pairs = self.params()
        st = self.state
        a = st.args
        if path.startswith("/control/"):
            return self.control(path, dict(pairs))
        why = self.check_oauth1(path, pairs) if a.auth == "oauth1" else self.check_bearer()
        with st.lock:
            st.api_requests += 1
            n = st.api_requests
            if a.auth == "oauth2" and a.revoke_after and n == a.revoke_after + 1:
                st.tokens.clear()
                why = why or "token revoked"
        q = dict(pairs)
        record = {"method": "GET", "path": path, "query": q, "auth": why or "ok"}
        if why:
            record["status"] = 401
            st.log(record)
            return self.send_json(401, imsx("failure", "unauthorisedrequest", f"refused: {why}"))
        if not path.startswith(st.root + "/"):
            record["status"] = 404
            st.log(record)
            return self.send_json(404, imsx("failure", "unknownobject", "no such endpoint"))
        entity = path[len(st.root) + 1:]
        if entity not in ENTITIES:
            record["status"] = 404
            st.log(record)
            return self.send_json(404, imsx("failure", "unknownobject", "no such collection"))
        limit = int(q.get("limit", "100"))
        offset = int(q.get("offset", "0"))
        page = offset // max(1, limit) + 1
        with st.lock:
            st.counts[entity] = st.counts.get(entity, 0) + 1
            fault = None
            for f in st.faults:
                if f["entity"] == entity and f["page"] == page and f["left"] != -1:
                    fault = f
                    if f["left"] > 0:
                        f["left"] -= 1
                        if f["left"] == 0:
                            f["left"] = -1
                    break
        record["page"] = page
        if a.latency_ms:
            time.sleep(a.latency_ms / 1000.0)
        repeat = None
        if fault and fault["kind"] == "repeat":
            first = st.data[entity][0]
            repeat = dict(first, dateLastModified=iso(1767225600 + 86400))
            record["fault"] = "repeat"
            fault = None
        if fault:
            record["status"] = {"429": 429, "500": 500, "truncate": 200, "error": 400, "forbidden": 403}[fault["kind"]]
            record["fault"] = fault["kind"]
            st.log(record)
            if fault["kind"] == "429":
                return self.send_json(429, imsx("failure", "server_busy", "slow down"), {"Retry-After": "1"})
            if fault["kind"] == "500":
                return self.send_json(500, imsx("failure", "internal_server_error", "database hiccup"))
            if fault["kind"] == "error":
                return self.send_json(400, imsx("failure", "invalid_filter_field", "filter field not supported", wrap=True))
            if fault["kind"] == "forbidden":
                return self.send_json(403, imsx("failure", "forbidden", "not permitted for this application"))
            body = json.dumps({entity: st.data[entity][offset:offset + limit]}).encode()
            return self.send_json(200, None, raw=body[: len(body) // 2])
        rows = st.data[entity]
        flt = q.get("filter")
        if flt:
            for op in (">=", ">"):
                field, sep, value = flt.partition(op)
                if sep:
                    value = value.strip().strip("'")
                    rows = [r for r in rows if (r.get(field.strip()) or "") >= value and (op == ">=" or (r.get(field.strip()) or "") > value)]
                    break
        chunk = rows[offset:offset + limit]
        if repeat:
            chunk = list(chunk) + [repeat]
        headers = {}
        if a.paging in ("total", "both"):
            headers["X-Total-Count"] = str(len(rows))
        if a.paging in ("link", "both"):
            links = []
            def url(o):
                extra = f"&filter={pct(flt)}" if flt else ""
                return f"http://{self.headers.get('Host')}{path}?limit={limit}&offset={o}{extra}"
            if offset + limit < len(rows):
                links.append(f'<{url(offset + limit)}>; rel="next"')
            links.append(f'<{url(max(0, (len(rows) - 1) // limit * limit))}>; rel="last"')
            headers["Link"] = ", ".join(links)
        record["status"] = 200
        record["count"] = len(chunk)
        st.log(record)
        self.send_json(200, {entity: chunk}, headers)

    def control(self, path, q):
        st = self.state
        if path == "/control/touch":
            with st.lock:
                for r in st.data[q["entity"]]:
                    if r["sourcedId"] == q["sourcedId"]:
                        if q.get("field"):
                            r[q["field"]] = q.get("value", "")
                        r["dateLastModified"] = iso(time.time())
                        return self.send_json(200, {"ok": True})
            return self.send_json(404, {"ok": False})
        if path == "/control/stats":
            with st.lock:
                return self.send_json(200, {"requests": st.api_requests, "pages": st.counts})
        self.send_json(404, {})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--version", choices=["1.1", "1.2"], default="1.1")
    p.add_argument("--auth", choices=["oauth1", "oauth2"], default="oauth1")
    p.add_argument("--client-id", default="client-1")
    p.add_argument("--secret", default="s3cret")
    p.add_argument("--scope", default=None)
    p.add_argument("--token-ttl", type=int, default=3600)
    p.add_argument("--revoke-after", type=int, default=0)
    p.add_argument("--users", type=int, default=60)
    p.add_argument("--classes", type=int, default=8)
    p.add_argument("--schools", type=int, default=1)
    p.add_argument("--enrollments-per-student", type=int, default=2)
    p.add_argument("--paging", choices=["total", "link", "both", "short"], default="total")
    p.add_argument("--latency-ms", type=float, default=0)
    p.add_argument("--quirks", action="store_true")
    p.add_argument("--lazy", action="store_true", help="make users and enrollments per page (a big district; no touch)")
    p.add_argument("--fault", action="append", default=[])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State(args)
    port = server.server_address[1]
    server.state.data = generate(args, f"http://127.0.0.1:{port}{server.state.root}")
    print(f"READY {port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
