#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses (tests/fuzz/corpus/<name>/)
and the regression inputs that are not crashes of ours (the libfcgi one).

Seeds are small, real-shaped inputs: the request lines, bodies, keys and
FastCGI streams nginx and clients actually send. Run from anywhere:
    python3 tests/fuzz/seeds.py
Files are named by content, so re-running adds nothing twice."""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = "rr_AbCdEf012345_" + "Z" * 43
KEY2 = "rr_k3yPub1icId9_" + "0123456789abcdefghijABCDEFGHIJ0123456789abcdefghij"


def put(harness, name, data, kind="corpus"):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(HERE, kind, harness)
    os.makedirs(d, exist_ok=True)
    tag = hashlib.sha1(data).hexdigest()[:8]
    with open(os.path.join(d, f"{name}-{tag}"), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- query
for i, (m, uri) in enumerate([
    ("GET", "/healthz"),
    ("GET", "/v1/clients?limit=10&cursor=djEuNDI"),
    ("GET", "/v1/clients/42"),
    ("PATCH", "/v1/clients/42"),
    ("DELETE", "/v1/clients/42"),
    ("GET", "/v1/clients/42/accounts?limit=200"),
    ("POST", "/v1/clients/7/accounts"),
    ("GET", "/v1/accounts/9/labels"),
    ("PUT", "/v1/accounts/9/labels/vip"),
    ("GET", "/v1/labels/at-risk/accounts?cursor=&limit="),
    ("POST", "/v1/labels/vip/rename"),
    ("GET", "/v1/keys/current"),
    ("GET", "/v1/jobs?status=queued&kind=ingest"),
    ("GET", "/v1/jobs/123"),
    ("DELETE", "/healthz"),
    ("GET", "/v1/clients/12%2F3?q=a+b%20c&x=%E2%82%AC&x=2&flag"),
    ("GET", "/v1//clients/"),
    ("GET", "/v1/clients/%00"),
    ("GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n"),
    ("OPTIONS", "*"),
    ("GET", "/v1/clients?" + "&".join(f"k{n}=v{n}" for n in range(70))),
]):
    put("query", f"seed{i:02d}", f"{m}\n{uri}")

# ---------------------------------------------------------------- json
# byte 0: bits 0-1 table (clients, accounts, keys, all types), bit 2 PATCH,
# bits 3-5 Content-Type variant (0 = application/json), bit 6 small depth,
# bit 7 small size limit
for i, (sel, body) in enumerate([
    (0, '{"name":"Acme Bakery","notes":"weekly report"}'),
    (4, '{"notes":null}'),
    (0, '{"name":"x","id":5}'),
    (0, '{"name":"x","tenant_id":2}'),
    (1, '{"platform":"instagram","handle":"acme.bakery","external_id":"1784","relation":"own"}'),
    (1, '{"platform":"myspace","handle":"a"}'),
    (2, '{"name":"ci","scope":"write","client_id":3,"expires_at":"2026-01-02T03:04:05.123+02:00"}'),
    (2, '{"scope":"admin","expires_at":"2026-13-02T03:04:05Z"}'),
    (3, '{"s":"abc","i":-9223372036854775808,"n":1.5e300,"b":true,"t":"1999-12-31T23:59:60z",'
        '"o":{"k":[1,{"x":null}]},"a":[1,2,3],"e":"competitor"}'),
    (3, '{"s":"a\\u0000b"}'),
    (3, '{"s":"\\ud83d\\ude00"}'),
    (0, '{"name":"a","name":"b"}'),
    (0, '[{"name":"a"}]'),
    (0, '"just a string"'),
    (0, '{"name":"a"} trailing'),
    (0x40 | 1, '{"a":{"b":{"c":{"d":[[[[1]]]]}}}}'),
    (0, '{"a":"\\"[[[[[[[[","b":"\\\\"}'),
    (0x80, '{"name":"' + "y" * 1100 + '"}'),
    (0x28, '{"name":"text/plain body"}'),
    (0, ""),
    (0, "[" * 40 + "]" * 40),
]):
    put("json", f"seed{i:02d}", bytes([sel]) + body.encode())

# ---------------------------------------------------------------- cursor
for i, q in enumerate([
    "", "limit=1", "limit=200", "limit=201", "limit=0", "limit=-1", "limit=+5", "limit=5x",
    "limit=99999999999999999999", "cursor=djEuNDI", "cursor=djEuMQ", "cursor=djEuOTIyMzM3MjAzNjg1NDc3NTgwNw",
    "cursor=djEuLTE", "cursor=djIuNDI", "cursor=", "cursor=djEu", "cursor=d", "cursor=djEuNDI=",
    "limit=50&cursor=djEuMTIzNDU2Nzg5", "cursor=" + "A" * 48, "cursor=" + "A" * 49,
    "cursor=djEuNDI&cursor=x", "cursor=dj%45uNDI", "cursor=djEu%00NDI",
]):
    put("cursor", f"seed{i:02d}", q)

# ---------------------------------------------------------------- key
for i, s in enumerate([
    f"Bearer {KEY}",
    f"bearer  {KEY2}\t",
    f"BEARER\t{KEY}",
    f"Basic {KEY}",
    f"Bearer {KEY[:-1]}",
    f"Bearer {KEY}!",
    f"Bearer rr_short_{'a' * 43}",
    f"Bearer {KEY}" + "a" * 44,
    "Bearer ",
    "",
    f"Bearer {KEY}\napi_key={KEY}",
    f"Bearer {KEY}\nq=hello&note={KEY2}",
    f"Bearer {KEY}\nAPIKEY=1",
    f"Bearer {KEY}\nx=rr_abcdefgh_{'b' * 20}",
    f"Bearer {KEY}\nlimit=10",
    f"{KEY}",
]):
    put("key", f"seed{i:02d}", s)

# ---------------------------------------------------------------- fcgi
BEGIN, ABORT, END, PARAMS, STDIN, STDOUT, GET_VALUES = 1, 2, 3, 4, 5, 6, 9


def rec(t, rid, content=b"", pad=None):
    if pad is None:
        pad = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBx", 1, t, rid, len(content), pad) + content + b"\0" * pad


def ln(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def nv(pairs):
    out = b""
    for k, v in pairs:
        k, v = (k.encode(), v.encode()) if isinstance(k, str) else (k, v)
        out += ln(len(k)) + ln(len(v)) + k + v
    return out


def begin(rid=1, keep=False, role=1):
    return rec(BEGIN, rid, struct.pack(">HB5x", role, 1 if keep else 0))


def request(method, uri, headers=(), body=b"", rid=1, keep=False, split=False, extra=()):
    params = [("REQUEST_METHOD", method), ("REQUEST_URI", uri), ("SCRIPT_NAME", uri.split("?")[0]),
              ("QUERY_STRING", uri.split("?", 1)[1] if "?" in uri else ""),
              ("SERVER_PROTOCOL", "HTTP/1.1"), ("REMOTE_ADDR", "127.0.0.1")]
    if body:
        params.append(("CONTENT_LENGTH", str(len(body))))
    for k, v in headers:
        if k.lower() == "content-type":
            params.append(("CONTENT_TYPE", v))
        else:
            params.append(("HTTP_" + k.upper().replace("-", "_"), v))
    params += list(extra)
    blob = nv(params)
    out = begin(rid, keep)
    if split:  # params cut at arbitrary points across records
        for i in range(0, len(blob), 13):
            out += rec(PARAMS, rid, blob[i:i + 13])
    else:
        out += rec(PARAMS, rid, blob)
    out += rec(PARAMS, rid)
    if isinstance(body, str):
        body = body.encode()
    if body:
        out += rec(STDIN, rid, body)
    out += rec(STDIN, rid)
    return out


auth = [("Authorization", f"Bearer {KEY}")]
json_ct = [("Content-Type", "application/json")]
seeds = {
    "healthz": request("GET", "/healthz"),
    "readyz": request("GET", "/readyz"),
    "metrics": request("GET", "/metrics"),
    "openapi": request("GET", "/v1/openapi.json"),
    "clients-noauth": request("GET", "/v1/clients"),
    "clients-auth": request("GET", "/v1/clients?limit=5", auth),
    "clients-post": request("POST", "/v1/clients", auth + json_ct + [("Idempotency-Key", "k-1")],
                            '{"name":"Acme"}'),
    "account-patch": request("PATCH", "/v1/accounts/12", auth + json_ct, '{"handle":"x"}'),
    "key-in-url": request("GET", f"/v1/clients?api_key={KEY}", auth),
    "method-405": request("DELETE", "/healthz"),
    "path-404": request("GET", "/nope"),
    "param-escape": request("GET", "/v1/clients/12%2F3", auth),
    "param-nul": request("GET", "/v1/clients/%00", auth),
    "request-id": request("GET", "/healthz", [("X-Request-Id", "abc-123_x.y")]),
    "request-id-bad": request("GET", "/healthz", [("X-Request-Id", "a\r\nSet-Cookie: x=1")]),
    "split-params": request("GET", "/v1/keys/current", auth, split=True),
    "body-short": begin() + rec(PARAMS, 1, nv([("REQUEST_METHOD", "POST"), ("REQUEST_URI", "/v1/clients"),
                                                ("CONTENT_LENGTH", "100")])) + rec(PARAMS, 1)
                  + rec(STDIN, 1, b'{"name"') + rec(STDIN, 1),
    "content-length-bad": request("POST", "/v1/clients", auth, extra=[("CONTENT_LENGTH", "-1")]),
    "content-length-huge": request("POST", "/v1/clients", auth,
                                   extra=[("CONTENT_LENGTH", "99999999999999999999")]),
    "keepalive-2": request("GET", "/healthz", keep=True) + request("GET", "/v1/jobs/1", auth, rid=2),
    "get-values": rec(GET_VALUES, 0, nv([("FCGI_MAX_CONNS", ""), ("FCGI_MAX_REQS", ""),
                                          ("FCGI_MPXS_CONNS", "")])) + request("GET", "/healthz"),
    "unknown-mgmt": rec(11, 0, b"\0" * 8) + request("GET", "/healthz"),
    "unknown-role": begin(role=7) + rec(PARAMS, 1) + rec(STDIN, 1),
    "multiplex": begin(1) + begin(2) + rec(PARAMS, 1, nv([("REQUEST_URI", "/healthz")])) + rec(PARAMS, 1)
                 + rec(STDIN, 1),
    "abort": begin(1) + rec(ABORT, 1),
    "padding": begin() + rec(PARAMS, 1, nv([("REQUEST_URI", "/healthz")]), pad=255) + rec(PARAMS, 1)
               + rec(STDIN, 1),
    "no-method": begin() + rec(PARAMS, 1, nv([("REQUEST_URI", "/healthz")])) + rec(PARAMS, 1) + rec(STDIN, 1),
    "no-uri": begin() + rec(PARAMS, 1, nv([("REQUEST_METHOD", "GET")])) + rec(PARAMS, 1) + rec(STDIN, 1),
    "long-param": request("GET", "/healthz", [("X-Long", "v" * 300)]),
    "empty": b"",
    "truncated": request("GET", "/healthz")[:20],
}
for name, data in seeds.items():
    put("fcgi", name, data)

# The libfcgi bug (CVE-2025-23016 as far as Debian 12 fixed it): a PARAMS
# pair with nameLen = valueLen = 0x40000000; nameLen + valueLen + 2
# overflows int. In production this aborts the worker inside libfcgi; the
# harness absorbs it (see fuzz_fcgi.c) and must survive it.
put("fcgi", "libfcgi-param-len-overflow",
    begin() + rec(PARAMS, 1, ln(0x40000000) + ln(0x40000000) + b"AAAA") + rec(PARAMS, 1),
    kind="regressions")
# the same from a management record (FCGI_GET_VALUES on request id 0)
put("fcgi", "libfcgi-get-values-len-overflow",
    rec(GET_VALUES, 0, ln(0x7ffffffe) + ln(0x7ffffffe) + b"AAAA"), kind="regressions")
# FCGI_GET_VALUES naming a variable 4 times: libfcgi's 64-byte answer buffer
# overflows (stack smashing abort in production); the harness skips it.
put("fcgi", "libfcgi-get-values-stack-overflow",
    rec(GET_VALUES, 0, nv([("FCGI_MPXS_CONNS", "")] * 4)) + request("GET", "/healthz"),
    kind="regressions")

# ------------------------------------------------------------ ingest_records
# byte 0: bits 0-1 format (0 JSON, 1 NDJSON, 2 CSV, 3 ids), bits 2-4 platform
# (0 x, 1 instagram, 2 tiktok, 3 facebook, 4 youtube, 5 linkedin), bits 5-7
# read size (1, 2, 7, 64, 511, 4096, 65536, 1 MiB); byte 1: bit 0 record
# limit 256 bytes (else 1 MiB), bits 1-3 JSON depth limit (2 + 4n)
X_V2 = ('{"data":[{"id":"2244994945","name":"X Dev","username":"XDevelopers",'
        '"created_at":"2013-12-14T04:35:55.000Z","description":"bio\\twith tab","location":"SF",'
        '"url":"https://t.co/3ZX3TNiZCY","verified":false,"protected":false,'
        '"profile_image_url":"https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png",'
        '"public_metrics":{"followers_count":512,"following_count":2048,"tweet_count":14052,"listed_count":1672,'
        '"like_count":33}},{"id":"783214","username":"X","name":"X"}],'
        '"meta":{"result_count":2,"next_token":"7140dibdnow9c7btw3w29grvxfcgvpb9n9coehpk7xz5i"}}')
X_V11 = ('{"users":[{"id":6253282,"id_str":"6253282","name":"Twitter API","screen_name":"TwitterAPI",'
         '"location":"San Francisco, CA","description":"The Real Twitter API.","url":"https://t.co/8IkCzCDr19",'
         '"protected":false,"followers_count":6133636,"friends_count":12,"listed_count":12936,'
         '"created_at":"Wed May 23 06:01:13 +0000 2007","favourites_count":31,"verified":true,'
         '"statuses_count":3656,"lang":null,"default_profile_image":false,'
         '"profile_image_url_https":"https://pbs.twimg.com/profile_images/942858479592554497/BbazLO9L_normal.jpg",'
         '"status":{"created_at":"Wed Oct 10 20:19:24 +0000 2018","id_str":"1050118621198921728"}}],'
         '"next_cursor":1374004777531007833,"next_cursor_str":"1374004777531007833"}')
X_ARCHIVE = ('window.YTD.follower.part0 = [\n  {\n    "follower" : {\n      "accountId" : "1460337280148201472",\n'
             '      "userLink" : "https://twitter.com/intent/user?user_id=1460337280148201472"\n    }\n  },\n'
             '  {\n    "follower" : {\n      "accountId" : "12",\n      "userLink" : "https://twitter.com/intent/user?user_id=12"\n    }\n  }\n]')
IG_EXPORT = ('{"relationships_followers":[{"title":"","media_list_data":[],"string_list_data":'
             '[{"href":"https://www.instagram.com/acme.bakery","value":"acme.bakery","timestamp":1732727703}]},'
             '{"title":"","media_list_data":[],"string_list_data":[{"href":"https://www.instagram.com/_u/zoe_99",'
             '"timestamp":1700000000}]}]}')
IG_EXPORT_ARRAY = ('[{"title":"","media_list_data":[],"string_list_data":[{"href":"https://www.instagram.com/x",'
                   '"value":"x","timestamp":1732727703}]}]')
IG_GRAPH = ('{"business_discovery":{"username":"acme.bakery","name":"Acme","biography":"Bread",'
            '"followers_count":1520,"follows_count":300,"media_count":87,"id":"17841405822304914",'
            '"profile_picture_url":"https://scontent.cdninstagram.com/v/t51.2885-19/44884218_345707102882519_2446069589734326272_n.jpg"},'
            '"id":"17841405309211844"}')
TIKTOK = ('{"data":{"user":{"open_id":"723f24d7-e717-40f8-a2b6-cb8464cd23b4","union_id":"c9c60f44-a68e",'
          '"display_name":"TikTok Dev","username":"tiktokdev","follower_count":1000,"following_count":10,'
          '"likes_count":9000,"video_count":12,"is_verified":false,"bio_description":"hi"}},'
          '"error":{"code":"ok","message":""}}')
CANON = '[{"external_id":"42","handle":"acme","followers_count":"1,234","created_at":"2019-04-05T07:56:32+0000"},"123",12345,"@zoe"]'
NDJSON = ('{"id":"1","username":"a","public_metrics":{"followers_count":3}}\n\n'
          '{"id":"2","username":"b"}\r\n  "3"\n{"broken":\n[1,2]\n')
CSV = ('id,username,name,followers_count,following_count,created_at,verified,bio\n'
       '1,alice,Alice,10,5,2020-01-01T00:00:00Z,true,"multi\nline, ""quoted"" bio"\n'
       '2,bob,NULL,\\N,0,1732727703,false,\n'
       '3,"car""ol",Carol,"1,5K",,Wed Oct 10 20:19:24 +0000 2018,yes,x\n'
       '4,dave,Dave,1,2,3,4,5,6,7\n"5,unterminated\n')
CSV_SEMI = '\ufeffExternal_ID;Handle;Followers\r\n9;nine;99\r\n10;ten;1e3\r\n'
CSV_TAB = 'user_id\tscreen_name\tfollowers_count\n11\televen\t11\n'
IDS = 'id\n123\n@acme\n# a comment\n  456  \n\nnot a number\n' + '9' * 30 + '\n'

def ingest(name, fmt, platform, body, read=6, b1=0x0e):
    put("ingest_records", name, bytes([fmt | platform << 2 | read << 5, b1]) + body.encode())

ingest("x-v2", 0, 0, X_V2)
ingest("x-v2-small-reads", 0, 0, X_V2, read=2)
ingest("x-v11", 0, 0, X_V11)
ingest("x-archive-follower-js", 0, 0, X_ARCHIVE)
ingest("ig-export", 0, 1, IG_EXPORT)
ingest("ig-export-array", 0, 1, IG_EXPORT_ARRAY, read=3)
ingest("ig-graph", 0, 1, IG_GRAPH)
ingest("tiktok", 0, 2, TIKTOK)
ingest("canonical-and-scalars", 0, 5, CANON)
ingest("record-limit", 0, 0, X_V2, b1=0x0f)
ingest("depth-limit", 0, 0, '[[[[[[[[1]]]]]]]],{"a":{"b":{"c":1}}}]', b1=0x00)
ingest("ndjson", 1, 0, NDJSON)
ingest("ndjson-bytewise", 1, 0, NDJSON, read=0)
ingest("csv", 2, 0, CSV)
ingest("csv-bytewise", 2, 0, CSV, read=0)
ingest("csv-semicolon-bom", 2, 1, CSV_SEMI)
ingest("csv-tab", 2, 0, CSV_TAB)
ingest("csv-record-limit", 2, 0, CSV + ("x" * 300) + "\n", b1=0x0f)
ingest("ids", 3, 0, IDS)
ingest("ids-instagram", 3, 1, IDS, read=1)

# ------------------------------------------------------------------ handlers
# byte 0 (optional, < 0x20): bit 0 key restricted to client 1, bit 1 read scope
def handler(name, head, headers=(), body="", who=None):
    text = head + "\n" + "".join(f"{k}: {v}\n" for k, v in headers) + "\n" + body
    data = text.encode()
    if who is not None:
        data = bytes([who]) + data
    put("handlers", name, data)

JSON = [("Content-Type", "application/json")]
handler("healthz", "GET /healthz")
handler("readyz", "GET /readyz")
handler("openapi", "GET /v1/openapi.json")
handler("metrics", "GET /metrics")
handler("plugins", "GET /v1/plugins")
handler("clients-list", "GET /v1/clients?limit=20&cursor=djEuNDI")
handler("clients-list-bad-limit", "GET /v1/clients?limit=0")
handler("client-create", "POST /v1/clients", JSON + [("Idempotency-Key", "abc")], '{"name":"Acme","notes":"n"}')
handler("client-create-readonly", "POST /v1/clients", JSON, '{"name":"Acme","id":3}')
handler("client-get", "GET /v1/clients/42")
handler("client-get-bad-id", "GET /v1/clients/-1")
handler("client-patch", "PATCH /v1/clients/42", JSON, '{"notes":null}')
handler("client-patch-empty", "PATCH /v1/clients/42", JSON, '{}')
handler("client-delete", "DELETE /v1/clients/42")
handler("accounts-list", "GET /v1/clients/42/accounts?limit=5", who=1)
handler("account-create", "POST /v1/clients/42/accounts", JSON,
        '{"platform":"instagram","handle":"acme.bakery","relation":"competitor"}', who=1)
handler("account-get", "GET /v1/accounts/7")
handler("account-patch", "PATCH /v1/accounts/7", JSON, '{"handle":"new","external_id":null}')
handler("account-delete", "DELETE /v1/accounts/7")
handler("keys-list", "GET /v1/keys")
handler("key-create", "POST /v1/keys", JSON,
        '{"name":"ci","scope":"read","client_id":1,"expires_at":"2030-01-01T00:00:00Z"}')
handler("key-get", "GET /v1/keys/3")
handler("key-current", "GET /v1/keys/current", who=2)
handler("key-delete", "DELETE /v1/keys/3")
handler("jobs-list", "GET /v1/jobs?status=failed&limit=3")
handler("job-get", "GET /v1/jobs/9")
handler("wrong-ctype", "POST /v1/clients", [("Content-Type", "text/plain")], '{"name":"x"}')
handler("followers-json", "POST /v1/accounts/7/followers", JSON, X_V2)
handler("followers-ndjson", "POST /v1/accounts/7/followers?on_error=skip",
        [("Content-Type", "application/x-ndjson")], NDJSON)
handler("followers-csv", "POST /v1/accounts/7/followers?format=csv", [("Content-Type", "text/csv")], CSV)
handler("followers-ids", "POST /v1/accounts/7/followers", [("Content-Type", "text/plain")], IDS)
handler("followers-observed-at", "POST /v1/accounts/7/followers?observed_at=2025-01-02T03:04:05Z&on_error=skip",
        JSON + [("Idempotency-Key", "f-1")], X_ARCHIVE)
handler("followers-bad-observed-at", "POST /v1/accounts/7/followers?observed_at=yesterday", JSON, "[]")
handler("followers-unknown-format", "POST /v1/accounts/7/followers?format=xml",
        [("Content-Type", "application/xml")], "<a/>")
handler("snapshot-open", "POST /v1/accounts/7/snapshots", JSON, '{"observed_at":"2025-01-02T03:04:05Z"}')
handler("snapshots-list", "GET /v1/accounts/7/snapshots?state=open&limit=2")
handler("snapshot-get", "GET /v1/accounts/7/snapshots/3")
handler("snapshot-part", "POST /v1/accounts/7/snapshots/3/parts?part=2", [("Content-Type", "text/csv")], CSV)
handler("snapshot-complete", "POST /v1/accounts/7/snapshots/3/complete")
handler("snapshot-members", "GET /v1/accounts/7/snapshots/3/followers?limit=10&cursor=djEuMQ")
handler("metrics-post", "POST /v1/accounts/7/metrics", [("Content-Type", "application/x-ndjson")],
        '{"observed_at":"2025-01-02T03:04:05Z","followers_count":100,"following_count":5}\n')
handler("metrics-get", "GET /v1/accounts/7/metrics?from=2025-01-01T00:00:00Z&to=2025-02-01")

# A request method a metrics label must not carry verbatim (quote, brace,
# newline), then a scrape: the Prometheus text must stay well-formed. Two
# files, replayed in this order in one process (shared memory persists).
put_named = lambda name, data: open(os.path.join(HERE, "regressions", "fcgi", name), "wb").write(data)
put_named("metrics-method-label-1-inject", request('G"}\n1', "/nope"))
put_named("metrics-method-label-2-scrape", request("GET", "/metrics"))

# ------------------------------------------------------------- ingest_time
for s in ["Wed Oct 10 20:19:24 +0000 2018", "2013-12-14T04:35:55.000Z", "2019-04-05T07:56:32+0000",
          "2019-04-05T07:56:32+00:00", "2015-02-14 10:54:49", "2025-01-02", "1732727703",
          "1732727703123", "20250102", "2024-02-29T23:59:60.999999-12:00", "1900-01-01T00:00:00Z",
          "9999-12-31T23:59:59Z", "Thu Feb 29 00:00:00 -0530 2024", "1460337280148201472",
          " 2025-01-02T03:04:05,5Z "]:
    put("ingest_time", "seed", s)

# ------------------------------------------------------------- ingest_jrec
for s in ['{"id":"2244994945","name":"X Dev","username":"XDevelopers","public_metrics":'
          '{"followers_count":512,"following_count":2048},"verified":false,"url":null,"d":1.5e3}',
          '{"follower":{"accountId":"1460337280148201472","userLink":'
          '"https://twitter.com/intent/user?user_id=1460337280148201472"}}',
          '{"title":"","media_list_data":[],"string_list_data":[{"href":"https://www.instagram.com/acme",'
          '"value":"acme","timestamp":1732727703}]}',
          '{"s":"esc \\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\ud83d\\ude00 \\u0000"}',
          '{"a":1,"a":2}', '"just a string"', '12345678901234567890', '-0.0e-5', '[1,[2,[3]]]',
          '{"a.b":1,"a":{"b":2}}', '{"big":9223372036854775807,"neg":-9223372036854775808}',
          '{"x":tru}', '{"k":"v"} x', '  {  }  ']:
    put("ingest_jrec", "seed", s)
put("ingest_jrec", "seed", b'{"bad":"\xff"}')
put("ingest_jrec", "seed-long-real", "-0." + "3" * 140)
