-- Flat views of the results store for people who query it with SQL directly (sqlite3, DuckDB,
-- pandas.read_sql). Views only: no data is copied, and an older cvb ignores them.
-- Created with every writable open (IF NOT EXISTS), so stores made before they existed get them.

-- One row per cell and image metric or score detail (long format: no JSON to unpack).
CREATE VIEW IF NOT EXISTS cell_values AS
    SELECT c.task, c.vlm, c.codec, c.level, c.bpp, c.score, c.score_metric,
           'metric' AS kind, m.key AS name, m.value AS value
    FROM cells c, json_each(c.metrics) m
    UNION ALL
    SELECT c.task, c.vlm, c.codec, c.level, c.bpp, c.score, c.score_metric,
           'detail' AS kind, d.key AS name, d.value AS value
    FROM cells c, json_each(c.details) d;

-- One row per answer with the bpp of the image it was given for (NULL for codec none).
CREATE VIEW IF NOT EXISTS answers AS
    SELECT p.task, p.vlm, p.codec, p.level, p.sample_id, p.text, p.judge, p.error,
           c.bpp, c.num_bytes, p.vlm_version, p.task_version, p.run_id
    FROM predictions p LEFT JOIN compressed c ON c.key = p.key;
