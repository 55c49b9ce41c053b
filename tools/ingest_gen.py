#!/usr/bin/python3
"""Follower profiles for bench/ingest: N X API v2 user objects as NDJSON (what
an agency pulls from GET /2/users/:id/followers, one object per line) and the
same N rows normalised as CSV (the columns realreach stores in
realreach.profiles), for the psql \\copy baseline.

    tools/ingest_gen.py N OUT.ndjson OUT.csv [SEED]

Deterministic for a given N and SEED. Values are shaped like real followers:
snowflake ids for accounts made since 2010 and short ids before, empty bios
and locations for many, default avatars for some, heavy-tailed counts.
"""

import json
import random
import sys
from datetime import datetime, timedelta, timezone

WORDS = ("coffee music travel photo design code football art books food life dog cat "
         "runner dad mom student founder marketing crypto gamer fitness yoga film "
         "news tech love nature beach city night dreams").split()
CITIES = ["Berlin", "London", "Madrid", "Milano, Lombardia", "New York, NY", "Paris", "Lagos",
          "São Paulo", "Tokyo", "Toronto", "Sydney", "Mumbai", "", "", ""]
DEFAULT_AVATAR = "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"
EPOCH_TWEPOCH = 1288834974657  # X snowflake epoch, ms


def snowflake(ts):
    return ((int(ts.timestamp() * 1000) - EPOCH_TWEPOCH) << 22) | random.getrandbits(22)


def iso_ms(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def pg_time(t):
    return t.strftime("%Y-%m-%d %H:%M:%S.") + "%06d+00" % t.microsecond


def csv_text(s):
    if s is None:
        return ""
    return '"' + s.replace('"', '""') + '"'


def main():
    n = int(sys.argv[1])
    nd_path, csv_path = sys.argv[2], sys.argv[3]
    random.seed(int(sys.argv[4]) if len(sys.argv) > 4 else 42)
    now = datetime(2026, 1, 15, 12, 0, 0, tzinfo=timezone.utc)
    observed = pg_time(now)
    seen = set()
    with open(nd_path, "w", encoding="utf-8") as nd, open(csv_path, "w", encoding="utf-8") as cv:
        for i in range(n):
            created = now - timedelta(days=random.randint(1, 6000), seconds=random.randint(0, 86399))
            while True:
                uid = (snowflake(created) if created.year >= 2011
                       else random.randint(10**6, 2 * 10**8))
                if uid not in seen:
                    seen.add(uid)
                    break
            handle = "%s%s%d" % (random.choice(WORDS), random.choice(("", "_", "x")), random.randint(0, 99999))
            name = " ".join(w.capitalize() for w in random.sample(WORDS, random.randint(1, 3)))
            bio = " ".join(random.sample(WORDS, random.randint(3, 12))) if random.random() < 0.65 else ""
            url = "https://t.co/%08x" % random.getrandbits(32) if random.random() < 0.3 else ""
            loc = random.choice(CITIES)
            followers = int(random.paretovariate(1.2) * 20) - 20
            following = int(random.paretovariate(1.5) * 150) - 100
            following = max(following, 0)
            tweets = int(random.paretovariate(1.1) * 50) - 50
            likes = int(random.paretovariate(1.1) * 80) - 80
            listed = int(followers / 300)
            default_avatar = random.random() < 0.12
            verified = random.random() < 0.004
            protected = random.random() < 0.03
            last = now - timedelta(minutes=random.randint(1, 900000)) if tweets > 0 else None
            obj = {
                "id": str(uid), "name": name, "username": handle, "created_at": iso_ms(created),
                "description": bio, "url": url, "location": loc, "protected": protected,
                "verified": verified, "verified_type": "blue" if verified else "none",
                "profile_image_url": DEFAULT_AVATAR if default_avatar else
                "https://pbs.twimg.com/profile_images/%d/%08x_normal.jpg" % (uid % 10**12, random.getrandbits(32)),
                "public_metrics": {"followers_count": followers, "following_count": following,
                                   "tweet_count": tweets, "listed_count": listed, "like_count": likes},
            }
            if last is not None:
                obj["most_recent_tweet_id"] = str(snowflake(last))
                last = datetime.fromtimestamp(((int(obj["most_recent_tweet_id"]) >> 22) + EPOCH_TWEPOCH) / 1000,
                                              tz=timezone.utc)
            nd.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
            nd.write("\n")
            cv.write(",".join((
                str(uid), csv_text(handle), csv_text(name), csv_text(bio), csv_text(url), csv_text(loc),
                "", pg_time(created), str(followers), str(following), str(tweets), str(likes),
                str(listed), "given", "t" if default_avatar else "f", "t" if verified else "f",
                "t" if protected else "f", pg_time(last) if last else "", observed)))
            cv.write("\n")


if __name__ == "__main__":
    main()
