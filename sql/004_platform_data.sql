-- Platform data: profiles (followers, engagers, influencers — one row per
-- platform user per tenant, shared by every analysis), follower snapshots,
-- account count series, posts with their metric observations, engagements.
-- Missing platform fields stay NULL: an unknown count is not zero.
--
-- Written by bulk ingest (core/ingest_*.c) at COPY speed: rows are COPYed
-- into a temporary staging table and merged set-wise. Two choices follow
-- from that and differ from the other core tables:
--   * the hottest tables (profiles, snapshot members) carry no foreign key
--     to realreach.tenants: row-level security's WITH CHECK already pins
--     tenant_id to the authenticated tenant, and a per-row RI check doubled
--     the cost of loading a million followers;
--   * snapshot membership is stored in chunks of up to 10,000 profile ids
--     (realreach.snapshot_chunks), and read through the view
--     realreach.snapshot_followers, one row per member. A row per member
--     with its two indexes cost more than the profiles themselves.

CREATE TABLE realreach.profiles (
    tenant_id           bigint NOT NULL,
    id                  bigint GENERATED ALWAYS AS IDENTITY,
    -- COLLATE "C" here and on external_id: the unique index compares them
    -- for every row a bulk ingest inserts; byte order is all they need
    platform            text COLLATE "C" NOT NULL CHECK (platform IN ('x', 'instagram', 'tiktok', 'facebook', 'youtube', 'linkedin')),
    -- the platform's user id; for sources that give only a handle
    -- (Instagram exports, TikTok follower lists) '@' || lower(handle), until
    -- a source with the real id names the same handle (ingest then moves the
    -- profile to its real id, keeping its row and memberships)
    external_id         text COLLATE "C" NOT NULL CHECK (length(external_id) BETWEEN 1 AND 100),
    handle              text CHECK (length(handle) <= 100),
    name                text CHECK (length(name) <= 200),
    bio                 text CHECK (length(bio) <= 2000),
    url                 text CHECK (length(url) <= 2000),
    location            text CHECK (length(location) <= 200),
    lang                text CHECK (length(lang) <= 20),
    platform_created_at timestamptz,
    followers_count     bigint CHECK (followers_count >= 0),
    following_count     bigint CHECK (following_count >= 0),
    posts_count         bigint CHECK (posts_count >= 0),
    likes_count         bigint CHECK (likes_count >= 0),  -- likes given (X favourites) or received (TikTok): see likes_kind
    listed_count        bigint CHECK (listed_count >= 0),
    likes_kind          text CHECK (likes_kind IN ('given', 'received')),
    default_avatar      boolean,
    verified            boolean,
    protected           boolean,
    last_post_at        timestamptz,
    -- when the fields above were true: the latest observation merged in
    -- (a NULL field of a newer observation keeps the older value; an older
    -- observation only fills fields still NULL). NULL for a bare profile
    -- known only by its id (an id-only follower list).
    observed_at         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, platform, external_id)
);
-- Handle lookups link handle-only sources to profiles known by id; only the
-- platforms that have such sources need it.
CREATE INDEX profiles_by_handle ON realreach.profiles (tenant_id, platform, lower(handle))
    WHERE platform IN ('instagram', 'tiktok');

-- One complete follower list of an account as observed at observed_at.
-- Sent in one request or in parts (open → parts in order → complete);
-- analyses read only complete snapshots (the view snapshot_followers shows
-- only those). An open snapshot not touched for 24 hours is expired: its
-- state reads 'expired' (realreach.snapshot_state) and its rows are purged
-- when the account's next snapshot is opened.
CREATE TABLE realreach.follower_snapshots (
    tenant_id     bigint NOT NULL,
    id            bigint GENERATED ALWAYS AS IDENTITY,
    account_id    bigint NOT NULL,
    observed_at   timestamptz NOT NULL,
    state         text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'complete')),
    parts         integer NOT NULL DEFAULT 0,
    received      bigint NOT NULL DEFAULT 0,  -- rows sent, over all parts
    rejected      bigint NOT NULL DEFAULT 0,  -- rows skipped as invalid (on_error=skip)
    duplicates    bigint NOT NULL DEFAULT 0,  -- rows naming a profile listed before
    followers     bigint NOT NULL DEFAULT 0,  -- members stored
    next_position bigint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    expires_at    timestamptz NOT NULL DEFAULT now() + interval '24 hours',
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES realreach.accounts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX follower_snapshots_by_account ON realreach.follower_snapshots (tenant_id, account_id, observed_at);

-- Membership in platform order, up to 10,000 members per row: element k
-- (1-based) of profile_ids is at position first_position + k - 1 (position
-- 0 is the first listed: the newest follower on every platform that orders
-- its list). A NULL element is a slot freed when completing a snapshot sent
-- in parts found the profile listed earlier. followed_at, when not NULL,
-- runs parallel to profile_ids (Instagram exports give follow times).
CREATE TABLE realreach.snapshot_chunks (
    tenant_id      bigint NOT NULL,
    snapshot_id    bigint NOT NULL,
    part           integer NOT NULL CHECK (part >= 1),
    chunk          integer NOT NULL CHECK (chunk >= 0),
    first_position bigint NOT NULL CHECK (first_position >= 0),
    profile_ids    bigint[] NOT NULL,
    followed_at    timestamptz[],
    PRIMARY KEY (tenant_id, snapshot_id, part, chunk),
    FOREIGN KEY (tenant_id, snapshot_id) REFERENCES realreach.follower_snapshots (tenant_id, id) ON DELETE CASCADE
);

-- What an analysis reads: the members of complete snapshots, one row each.
CREATE VIEW realreach.snapshot_followers WITH (security_invoker = true) AS
    SELECT c.tenant_id, c.snapshot_id, c.first_position + m.ord - 1 AS position,
           m.profile_id, m.followed_at
      FROM realreach.snapshot_chunks c
      JOIN realreach.follower_snapshots s ON s.tenant_id = c.tenant_id AND s.id = c.snapshot_id
     CROSS JOIN LATERAL unnest(c.profile_ids, c.followed_at) WITH ORDINALITY AS m (profile_id, followed_at, ord)
     WHERE s.state = 'complete' AND m.profile_id IS NOT NULL;

-- The state a client sees: an open snapshot past its expiry is expired.
CREATE FUNCTION realreach.snapshot_state(state text, expires_at timestamptz) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN state = 'open' AND expires_at <= now() THEN 'expired' ELSE state END $$;

-- Follower/following/post counts of an account over time.
CREATE TABLE realreach.account_metrics (
    tenant_id   bigint NOT NULL,
    account_id  bigint NOT NULL,
    observed_at timestamptz NOT NULL,
    followers   bigint CHECK (followers >= 0),
    following   bigint CHECK (following >= 0),
    posts       bigint CHECK (posts >= 0),
    PRIMARY KEY (tenant_id, account_id, observed_at),
    FOREIGN KEY (tenant_id, account_id) REFERENCES realreach.accounts (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE realreach.posts (
    tenant_id    bigint NOT NULL,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    account_id   bigint NOT NULL,
    external_id  text COLLATE "C" NOT NULL CHECK (length(external_id) BETWEEN 1 AND 100),
    published_at timestamptz NOT NULL,
    type         text CHECK (type IN ('text', 'image', 'video', 'carousel', 'reel', 'story', 'link', 'other')),
    text         text CHECK (length(text) <= 10000),
    url          text CHECK (length(url) <= 2000),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, account_id, external_id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES realreach.accounts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX posts_by_time ON realreach.posts (tenant_id, account_id, published_at);

-- Every observation of a post's metrics is kept (the latest is the current
-- figure; the series shows how engagement accrued). NULL = not reported.
CREATE TABLE realreach.post_metrics (
    tenant_id   bigint NOT NULL,
    post_id     bigint NOT NULL,
    observed_at timestamptz NOT NULL,
    likes       bigint CHECK (likes >= 0),
    comments    bigint CHECK (comments >= 0),
    shares      bigint CHECK (shares >= 0),
    saves       bigint CHECK (saves >= 0),
    impressions bigint CHECK (impressions >= 0),
    reach       bigint CHECK (reach >= 0),
    views       bigint CHECK (views >= 0),
    clicks      bigint CHECK (clicks >= 0),
    PRIMARY KEY (tenant_id, post_id, observed_at),
    FOREIGN KEY (tenant_id, post_id) REFERENCES realreach.posts (tenant_id, id) ON DELETE CASCADE
);

-- Who engaged with which post. occurred_at is NULL where the platform does
-- not say (likes); the unique key then treats one profile's like of a post
-- as one engagement.
CREATE TABLE realreach.engagements (
    tenant_id   bigint NOT NULL,
    id          bigint GENERATED ALWAYS AS IDENTITY,
    post_id     bigint NOT NULL,
    profile_id  bigint NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('like', 'comment', 'share', 'mention', 'reply')),
    occurred_at timestamptz,
    text        text CHECK (length(text) <= 10000),
    external_id text COLLATE "C" CHECK (length(external_id) <= 100),  -- the comment's id, where given
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, post_id) REFERENCES realreach.posts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, profile_id) REFERENCES realreach.profiles (tenant_id, id)
);
CREATE UNIQUE INDEX engagements_identity ON realreach.engagements
    (tenant_id, post_id, profile_id, kind, COALESCE(external_id, ''), COALESCE(occurred_at, '-infinity'));
CREATE INDEX engagements_by_profile ON realreach.engagements (tenant_id, profile_id);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['profiles', 'follower_snapshots', 'snapshot_chunks', 'account_metrics',
                             'posts', 'post_metrics', 'engagements'] LOOP
        EXECUTE format('ALTER TABLE realreach.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE realreach.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON realreach.%I TO realreach_app
                        USING (tenant_id = realreach.current_tenant())
                        WITH CHECK (tenant_id = realreach.current_tenant())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON realreach.%I TO realreach_app', t);
    END LOOP;
END
$$;
GRANT SELECT ON realreach.snapshot_followers TO realreach_app;
-- Ingest draws new profiles' ids while it stages them (core/ingest_merge.c).
GRANT USAGE ON SEQUENCE realreach.profiles_id_seq TO realreach_app;
