-- Snapshot membership arrays (10,000 profile ids per row; follow times where
-- the source gives them) are compressed with lz4 rather than the default
-- pglz: about the same size for id arrays, and a fraction of the time to
-- write (a million-follower snapshot) and to read back (every audit unnests
-- them). A server built without lz4 keeps the default.
DO $$
BEGIN
    ALTER TABLE realreach.snapshot_chunks
        ALTER COLUMN profile_ids SET COMPRESSION lz4,
        ALTER COLUMN followed_at SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 not available: snapshot membership uses the default compression';
END
$$;
