#!/usr/bin/python3
"""Demo data for `make run`: a realistic agency loaded through the API.

    tools/demo_data.py BASE_URL API_KEY

Creates four clients with accounts on X, Instagram and TikTok (one a
competitor), and for each own account: follower snapshots at four dates
over the last nine months (new followers first, some unfollows between),
a year of daily follower/following/post counts, about two posts a week
with metrics observed twice, and likes and comments from followers on the
recent posts. Lumen Skincare's Instagram account bought followers: about
40 days ago a burst of ~2,500 new, fake-looking accounts (default avatar,
no bio, created days before, following thousands, followed by nobody)
arrives within two days; it shows in the daily counts and between the
third and fourth snapshot.

Everything goes through the public API in each platform's own format (X
API v2 and v1.1 users, Instagram profile objects, TikTok users, X v2
posts, Instagram media, CSV and JSON count series). Deterministic for a
given day. Run twice, it notices the data is there and does nothing.
Standard library only; about 20 s on a laptop.
"""

import json
import random
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

MARKER_CLIENT = "Northwind Coffee Roasters"
TWEPOCH = 1288834974657

FIRST = ("Ana Bruno Carla Diego Elena Felix Greta Hugo Ines Jonas Kira Luca Maya Nils Olga Pablo "
         "Quinn Rosa Sami Tara Umar Vera Wes Xenia Yusuf Zoe Amara Ben Chloe Dario Emil Farah "
         "Gabi Hana Ivan Jade Kofi Lena Milo Nora Omar Priya Rui Sofia Theo Uma Viktor Wren").split()
LAST = ("Silva Rossi Müller Novak Garcia Okafor Tanaka Kowalski Dubois Jensen Costa Haddad "
        "Nguyen Petrov Larsen Moreau Ortiz Kaya Lindqvist Mensah Ahmed Brown Fischer Romano").split()
BIO_BITS = ["coffee lover", "runner", "plant mom", "designer", "dad of two", "software engineer",
            "photography", "travel", "skincare nerd", "marathon in progress", "barista", "foodie",
            "bookworm", "yoga", "cyclist", "founder @ small studio", "teacher", "nurse", "music",
            "cats > dogs", "vegan", "lisbon based", "berlin", "nyc", "she/her", "he/him"]
CITIES = ["Lisboa, Portugal", "Berlin", "London", "Madrid", "Milano", "New York, NY", "Toronto",
          "Paris", "Amsterdam", "São Paulo", "Sydney", "Oslo", "Kraków", ""]
X_DEFAULT = "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"
IG_DEFAULT = ("https://instagram.fxyz1-1.fna.fbcdn.net/v/t51.2885-19/"
              "44884218_345707102882519_2446069589734326272_n.jpg?ig_cache_key=YW5vbnltb3VzX3Byb2ZpbGVfcGlj.2")

CLIENTS = [
    {"name": MARKER_CLIENT, "notes": "Specialty roaster, two cafés in Lisbon", "accounts": [
        {"platform": "x", "handle": "northwindcoffee", "base": 5200, "growth": 6.0, "posts_per_week": 3},
        {"platform": "instagram", "handle": "northwind.coffee", "base": 7800, "growth": 9.0, "posts_per_week": 3},
        {"platform": "x", "handle": "brewhausco", "relation": "competitor", "base": 3100, "growth": 3.0,
         "posts_per_week": 2},
    ]},
    {"name": "Lumen Skincare", "notes": "DTC skincare; influencer campaigns each quarter", "accounts": [
        {"platform": "instagram", "handle": "lumen.skin", "base": 6400, "growth": 7.0, "posts_per_week": 4,
         "burst": 2500},
        {"platform": "tiktok", "handle": "lumenskin", "base": 4100, "growth": 12.0, "posts_per_week": 3},
    ]},
    {"name": "Atlas Running Club", "notes": "Community club, sponsor-funded", "accounts": [
        {"platform": "x", "handle": "atlasrunclub", "base": 2600, "growth": 2.5, "posts_per_week": 2,
         "format": "v1"},
        {"platform": "tiktok", "handle": "atlas.run", "base": 1900, "growth": 5.0, "posts_per_week": 2},
    ]},
    {"name": "Harbor & Vine Wines", "notes": "Wine bar and shop", "accounts": [
        {"platform": "instagram", "handle": "harborandvine", "base": 3300, "growth": 3.5, "posts_per_week": 2},
    ]},
]
SNAPSHOT_DAYS_AGO = [270, 180, 90, 7]
BURST_DAYS_AGO = 40


class Api:
    def __init__(self, base, key):
        self.base = base.rstrip("/")
        self.key = key

    def call(self, method, path, body=None, ctype="application/json", params=None):
        url = self.base + path
        if params:
            url += "?" + "&".join("%s=%s" % kv for kv in params.items())
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.key)
        if data is not None:
            req.add_header("Content-Type", ctype)
        for attempt in range(5):
            try:
                with urllib.request.urlopen(req, timeout=120) as r:
                    text = r.read()
                    return json.loads(text) if text else None
            except urllib.error.HTTPError as e:
                text = e.read().decode("utf-8", "replace")
                if e.code in (429, 503) and attempt < 4:
                    time.sleep(1 + attempt)
                    continue
                raise SystemExit("demo-data: %s %s answered %d: %s" % (method, path, e.code, text[:500]))
            except urllib.error.URLError as e:
                if attempt < 4:
                    time.sleep(1 + attempt)
                    continue
                raise SystemExit("demo-data: cannot reach %s: %s" % (self.base, e))
        return None


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def snowflake(t, rnd):
    return ((int(t.timestamp() * 1000) - TWEPOCH) << 22) | rnd.getrandbits(22)


class People:
    """Makes follower profiles: genuine ones, and bought ones."""

    def __init__(self, rnd, today):
        self.rnd = rnd
        self.today = today
        self.seq = 0

    def genuine(self, platform, joined_before):
        r = self.rnd
        self.seq += 1
        first, last = r.choice(FIRST), r.choice(LAST)
        style = r.random()
        if style < 0.4:
            handle = "%s%s" % (first.lower(), r.choice(["", "_", "."]) + last.lower().replace("ü", "u"))
        elif style < 0.8:
            handle = "%s_%s" % (first.lower(), r.choice(BIO_BITS).split()[0].replace("@", ""))
        else:
            handle = "%s%d" % (first.lower(), r.randint(1, 99))
        handle = (handle + str(self.seq % 1000))[:30].replace(" ", "")
        created = joined_before - timedelta(days=r.randint(30, 4500))
        followers = max(0, int(r.paretovariate(1.3) * 60) - 40)
        following = max(5, int(r.lognormvariate(5.5, 0.8)))
        posts = max(0, int(r.paretovariate(1.1) * 120) - 100)
        return {
            "kind": "genuine", "platform": platform, "seq": self.seq,
            "name": "%s %s" % (first, last) if r.random() < 0.85 else first,
            "handle": handle,
            "bio": ", ".join(r.sample(BIO_BITS, r.randint(1, 3))) if r.random() < 0.75 else "",
            "location": r.choice(CITIES),
            "url": ("https://%s.example" % handle.replace("_", "").replace(".", "")) if r.random() < 0.15 else "",
            "created": created, "followers": followers, "following": following, "posts": posts,
            "likes": max(0, int(r.paretovariate(1.05) * 200) - 150),
            "default_avatar": r.random() < 0.04, "verified": r.random() < 0.005,
            "protected": r.random() < 0.06,
            "last_post": self.today - timedelta(hours=r.randint(1, 24 * 200)) if posts else None,
        }

    def bought(self, platform, around):
        r = self.rnd
        self.seq += 1
        first = r.choice(FIRST + ["jessica", "ashley", "mary", "linda", "sarah", "kevin", "jason"])
        handle = "%s%s%d" % (first.lower(), r.choice(["", "_", ".", "x"]), r.randint(10000, 999999))
        return {
            "kind": "bought", "platform": platform, "seq": self.seq,
            "name": first.capitalize() if r.random() < 0.5 else "",
            "handle": handle, "bio": "" if r.random() < 0.9 else r.choice(BIO_BITS),
            "location": "", "url": "",
            "created": around - timedelta(days=r.randint(2, 30), minutes=r.randint(0, 1440)),
            "followers": r.randint(0, 15), "following": r.randint(800, 5200), "posts": r.randint(0, 2),
            "likes": r.randint(0, 5), "default_avatar": r.random() < 0.7, "verified": False,
            "protected": False, "last_post": None,
        }


def ext_id(p, rnd):
    if "id" not in p:
        if p["platform"] == "x":
            p["id"] = str(snowflake(p["created"], rnd)) if p["created"].year >= 2011 else str(
                10_000_000 + p["seq"] * 7919)
        elif p["platform"] == "instagram":
            p["id"] = str(17841400000000000 + p["seq"] * 7)
        else:
            p["id"] = "-%012x" % (0x5eed0000 + p["seq"] * 13)
    return p["id"]


def as_platform_object(p, rnd, x_format="v2"):
    """The profile in the shape its platform's API hands it out."""
    pid = ext_id(p, rnd)
    if p["platform"] == "x" and x_format == "v1":
        o = {"id": int(pid), "id_str": pid, "name": p["name"], "screen_name": p["handle"],
             "location": p["location"], "description": p["bio"], "url": p["url"] or None,
             "protected": p["protected"], "verified": p["verified"],
             "followers_count": p["followers"], "friends_count": p["following"],
             "listed_count": p["followers"] // 200, "favourites_count": p["likes"],
             "statuses_count": p["posts"],
             "created_at": p["created"].strftime("%a %b %d %H:%M:%S +0000 %Y"), "lang": None,
             "default_profile_image": p["default_avatar"],
             "profile_image_url_https": X_DEFAULT if p["default_avatar"] else
             "https://pbs.twimg.com/profile_images/%s/p_normal.jpg" % pid[-9:]}
        if p["last_post"]:
            o["status"] = {"created_at": p["last_post"].strftime("%a %b %d %H:%M:%S +0000 %Y"),
                           "text": "…"}
        return o
    if p["platform"] == "x":
        o = {"id": pid, "name": p["name"], "username": p["handle"], "created_at": iso(p["created"]),
             "description": p["bio"], "url": p["url"], "location": p["location"],
             "protected": p["protected"], "verified": p["verified"],
             "profile_image_url": X_DEFAULT if p["default_avatar"] else
             "https://pbs.twimg.com/profile_images/%s/p_normal.jpg" % pid[-9:],
             "public_metrics": {"followers_count": p["followers"], "following_count": p["following"],
                                "tweet_count": p["posts"], "listed_count": p["followers"] // 200,
                                "like_count": p["likes"]}}
        if p["last_post"]:
            o["most_recent_tweet_id"] = str(snowflake(p["last_post"], rnd))
        return o
    if p["platform"] == "instagram":
        return {"pk": pid, "username": p["handle"], "full_name": p["name"], "biography": p["bio"],
                "external_url": p["url"] or None, "is_private": p["protected"],
                "is_verified": p["verified"],
                "profile_pic_url": IG_DEFAULT if p["default_avatar"] else
                "https://scontent.cdninstagram.com/v/t51.2885-19/%s_n.jpg" % pid,
                "has_anonymous_profile_picture": p["default_avatar"],
                "follower_count": p["followers"], "following_count": p["following"],
                "media_count": p["posts"], "followed_at": iso(p["followed"])}
    return {"open_id": pid, "username": p["handle"], "display_name": p["name"],
            "bio_description": p["bio"], "is_verified": p["verified"],
            "avatar_url": "" if p["default_avatar"] else "https://p16-sign.tiktokcdn.com/%s.jpeg" % pid,
            "follower_count": p["followers"], "following_count": p["following"],
            "likes_count": p["likes"] * 3, "video_count": p["posts"]}


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: tools/demo_data.py BASE_URL API_KEY")
    api = Api(sys.argv[1], sys.argv[2])
    t0 = time.monotonic()
    existing = api.call("GET", "/v1/clients", params={"limit": 200})["items"]
    if any(c["name"] == MARKER_CLIENT for c in existing):
        print("demo-data: already loaded (client %r exists)" % MARKER_CLIENT)
        return
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    rnd = random.Random(20260101)
    people = People(rnd, today)
    summary = []
    for c in CLIENTS:
        client = api.call("POST", "/v1/clients", {"name": c["name"], "notes": c["notes"]})
        for spec in c["accounts"]:
            body = {"platform": spec["platform"], "handle": spec["handle"]}
            if spec.get("relation"):
                body["relation"] = spec["relation"]
            acct = api.call("POST", "/v1/clients/%d/accounts" % client["id"], body)
            summary.append(load_account(api, rnd, people, today, client, acct, spec))
    # follower lists are merged by jobs: ready once none is merging
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        accounts = [a for c in api.call("GET", "/v1/clients", params={"limit": 200})["items"]
                    for a in api.call("GET", "/v1/clients/%d/accounts" % c["id"],
                                      params={"limit": 200})["items"]]
        if not any(api.call("GET", "/v1/accounts/%d/snapshots" % a["id"],
                            params={"state": "merging", "limit": 1})["items"] for a in accounts):
            break
        time.sleep(0.2)
    print("demo-data: loaded %d clients, %d accounts in %.0f s" % (
        len(CLIENTS), len(summary), time.monotonic() - t0))
    for line in summary:
        print("  " + line)


def load_account(api, rnd, people, today, client, acct, spec):
    aid, platform = acct["id"], spec["platform"]
    start = today - timedelta(days=365)
    # ---- who follows, and when (newest first, as platforms list them)
    audience = []  # (followed_at, person)
    t = start - timedelta(days=1)
    for _ in range(spec["base"]):
        p = people.genuine(platform, start)
        p["followed"] = start - timedelta(days=rnd.randint(1, 1500), seconds=rnd.randint(0, 86399))
        audience.append(p)
    day = start
    burst_day = today - timedelta(days=BURST_DAYS_AGO)
    while day < today:
        for _ in range(max(0, int(rnd.gauss(spec["growth"], spec["growth"] / 3)))):
            p = people.genuine(platform, day)
            p["followed"] = day + timedelta(seconds=rnd.randint(0, 86399))
            audience.append(p)
        if spec.get("burst") and day == burst_day:
            for _ in range(spec["burst"]):
                p = people.bought(platform, day)
                p["followed"] = day + timedelta(seconds=rnd.randint(0, 2 * 86400 - 1))
                audience.append(p)
        day += timedelta(days=1)
    # unfollows: a few percent leave at a random day
    for p in audience:
        p["left"] = (start + timedelta(days=rnd.randint(0, 364))) if rnd.random() < 0.05 else None
        if p["kind"] == "bought" and rnd.random() < 0.1:  # bought followers decay a little
            p["left"] = p["followed"] + timedelta(days=rnd.randint(5, 30))

    def members_at(t):
        m = [p for p in audience if p["followed"] <= t and (p["left"] is None or p["left"] > t)]
        m.sort(key=lambda p: p["followed"], reverse=True)
        return m

    # ---- the daily count series (one CSV), then the snapshots
    rows = ["observed_at,followers,following,posts"]
    following, posts_total = rnd.randint(150, 900), rnd.randint(200, 2500)
    day = start
    while day <= today:
        n = sum(1 for p in audience if p["followed"] <= day and (p["left"] is None or p["left"] > day))
        following += rnd.choice((0, 0, 0, 1, -1))
        posts_total += 1 if rnd.random() < spec["posts_per_week"] / 7 else 0
        rows.append("%s,%d,%d,%d" % (day.strftime("%Y-%m-%dT%H:%M:%SZ"), n, max(following, 0), posts_total))
        day += timedelta(days=1)
    api.call("POST", "/v1/accounts/%d/metrics" % aid, "\n".join(rows).encode(), "text/csv")

    snaps = []
    for days_ago in SNAPSHOT_DAYS_AGO:
        at = today - timedelta(days=days_ago) + timedelta(hours=9)
        objs = [as_platform_object(p, rnd, spec.get("format", "v2")) for p in members_at(at)]
        if platform == "x":
            body = "\n".join(json.dumps(o, ensure_ascii=False) for o in objs).encode()
            r = api.call("POST", "/v1/accounts/%d/followers" % aid, body, "application/x-ndjson",
                         params={"observed_at": iso(at)})
        else:
            r = api.call("POST", "/v1/accounts/%d/followers" % aid, json.dumps(objs).encode(),
                         params={"observed_at": iso(at)})
        snaps.append(r["snapshot"]["followers"])

    # ---- posts about posts_per_week a week, metrics a day and a week after
    post_rows, post_ids = [], []
    day = start + timedelta(days=1)
    n = 0
    while day < today - timedelta(days=1):
        if rnd.random() < spec["posts_per_week"] / 7:
            n += 1
            pub = day + timedelta(hours=rnd.choice((8, 12, 17, 19, 21)), minutes=rnd.randint(0, 59))
            reach = int(len(snaps) and snaps[-1] * rnd.uniform(0.08, 0.4))
            likes = int(reach * rnd.uniform(0.02, 0.09))
            pid = str(snowflake(pub, rnd)) if platform == "x" else "%d%07d" % (17900000000, n) \
                if platform == "instagram" else "73%017d" % n
            post_ids.append((pid, pub))
            for obs_days, share in ((1, 0.75), (7, 1.0)):
                obs = pub + timedelta(days=obs_days)
                if obs > datetime.now(timezone.utc):
                    continue
                if platform == "x":
                    post_rows.append({"id": pid, "text": "Post %d from @%s" % (n, spec["handle"]),
                                      "created_at": iso(pub), "observed_at": iso(obs),
                                      "public_metrics": {"like_count": int(likes * share),
                                                         "reply_count": int(likes * share / 12),
                                                         "retweet_count": int(likes * share / 8),
                                                         "quote_count": int(likes * share / 40),
                                                         "bookmark_count": int(likes * share / 20),
                                                         "impression_count": int(reach * 2.4 * share)}})
                elif platform == "instagram":
                    post_rows.append({"id": pid, "caption": "Post %d ✨" % n, "timestamp":
                                      pub.strftime("%Y-%m-%dT%H:%M:%S+0000"), "observed_at": iso(obs),
                                      "media_type": rnd.choice(("IMAGE", "IMAGE", "CAROUSEL_ALBUM", "VIDEO")),
                                      "media_product_type": "REELS" if rnd.random() < 0.3 else "FEED",
                                      "permalink": "https://www.instagram.com/p/demo%d/" % n,
                                      "like_count": int(likes * share), "comments_count": int(likes * share / 15),
                                      "insights": {"data": [
                                          {"name": "reach", "values": [{"value": int(reach * share)}]},
                                          {"name": "saved", "values": [{"value": int(likes * share / 10)}]},
                                          {"name": "shares", "values": [{"value": int(likes * share / 12)}]},
                                          {"name": "views", "values": [{"value": int(reach * 1.8 * share)}]}]}})
                else:
                    post_rows.append({"id": pid, "create_time": int(pub.timestamp()), "observed_at": iso(obs),
                                      "video_description": "clip %d #%s" % (n, spec["handle"]),
                                      "share_url": "https://www.tiktok.com/@%s/video/%s" % (spec["handle"], pid),
                                      "like_count": int(likes * share * 3), "comment_count": int(likes * share / 5),
                                      "share_count": int(likes * share / 9), "view_count": int(reach * 6 * share)})
        day += timedelta(days=1)
    if post_rows:
        api.call("POST", "/v1/accounts/%d/posts" % aid,
                 "\n".join(json.dumps(r, ensure_ascii=False) for r in post_rows).encode(),
                 "application/x-ndjson")

    # ---- engagements on the last 12 posts: likes and a few comments by followers
    current = members_at(today)
    genuine = [p for p in current if p["kind"] == "genuine"]
    eng = []
    for pid, pub in post_ids[-12:]:
        for p in rnd.sample(genuine, min(len(genuine), rnd.randint(20, 60))):
            eng.append({"post_external_id": pid, "kind": "like",
                        "occurred_at": iso(pub + timedelta(minutes=rnd.randint(1, 3000))),
                        "profile": {"id": ext_id(p, rnd), "username": p["handle"]}})
        for p in rnd.sample(genuine, min(len(genuine), rnd.randint(1, 6))):
            eng.append({"post_external_id": pid, "kind": "comment",
                        "text": rnd.choice(("Love this!", "Where is this?", "🔥🔥", "So good",
                                            "Need to try it", "Great shot")),
                        "external_id": "c-%s-%d" % (pid, p["seq"]),
                        "occurred_at": iso(pub + timedelta(minutes=rnd.randint(1, 3000))),
                        "profile": {"id": ext_id(p, rnd), "username": p["handle"]}})
    if eng:
        api.call("POST", "/v1/accounts/%d/engagements" % aid, json.dumps(eng).encode())
    note = " (bought ~%d followers %d days ago)" % (spec["burst"], BURST_DAYS_AGO) if spec.get("burst") else ""
    return "%-26s %-9s @%-17s account %-4d snapshots %s, %d posts, %d engagements%s" % (
        client["name"], platform, spec["handle"], aid, "/".join(str(s) for s in snaps), len(post_ids),
        len(eng), note)


if __name__ == "__main__":
    main()
