-- The results store schema as cvb of 2026-12-07 (main before typed identities) wrote it: what
-- tests/test_identity_store.py makes old stores with. Do not edit.
-- The cvb results store (schema version 1). One SQLite file, WAL mode.
-- Identity columns carry UNIQUE/PRIMARY KEY constraints, so no rerun, resumed run or
-- concurrent run can ever store a unit twice. Statements are separated by semicolons at line
-- ends only (store.py runs them inside one transaction).

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per `cvb run` invocation: what ran, with which software, where and when.
CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at  TEXT NOT NULL,             -- ISO 8601, UTC
    finished_at TEXT,
    status      TEXT NOT NULL,             -- running | ok | failures | interrupted | error | killed
    cvb_version TEXT NOT NULL,
    git_commit  TEXT,                      -- of the cvb source tree, when it is a git checkout
    host        TEXT,
    python      TEXT,
    platform    TEXT,
    argv        TEXT NOT NULL,             -- JSON list
    options     TEXT NOT NULL,             -- JSON: the resolved matrix and settings
    plugins     TEXT NOT NULL,             -- JSON list of {name, distribution, version}
    prompts     TEXT NOT NULL,             -- JSON: cvb.prompts.SUFFIX and its sha256
    summary     TEXT,                      -- JSON: counts and failures at the end
    pid         INTEGER,                   -- the cvb process, with host and pid_start: a run whose
    pid_start   TEXT                       -- process is gone while 'running' is marked 'killed'
);

-- The images each task uses, by the task's own key; content_hash links them to compressions.
CREATE TABLE IF NOT EXISTS images (
    task         TEXT NOT NULL,
    image_key    TEXT NOT NULL,
    content_hash TEXT,                     -- sha256 of the file bytes; NULL: unreadable
    num_bytes    INTEGER,
    width        INTEGER,
    height       INTEGER,
    error        TEXT,                     -- why it cannot be read or decoded
    PRIMARY KEY (task, image_key)
);
CREATE INDEX IF NOT EXISTS images_by_hash ON images (content_hash);

-- One row per compressed image: key = sha256(content hash, codec, version, level, params).
CREATE TABLE IF NOT EXISTS compressed (
    key           TEXT PRIMARY KEY,
    content_hash  TEXT NOT NULL,
    codec         TEXT NOT NULL,
    codec_version TEXT NOT NULL,
    level         TEXT NOT NULL,
    params        TEXT NOT NULL,           -- JSON
    num_bytes     INTEGER,
    bpp           REAL,                    -- len(bitstream) * 8 / (W * H) of the original
    width         INTEGER,
    height        INTEGER,
    encode_s      REAL,
    decode_s      REAL,
    error         TEXT,
    run_id        INTEGER,
    updated_ns    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS compressed_by_codec ON compressed (codec, level);

-- Full-reference image quality of each compressed image against its original.
CREATE TABLE IF NOT EXISTS metrics (
    key        TEXT NOT NULL,              -- compressed.key
    metric     TEXT NOT NULL,
    value      REAL,
    error      TEXT,
    run_id     INTEGER,
    updated_ns INTEGER NOT NULL,
    PRIMARY KEY (key, metric)
);

-- What each sample asks (one row per task label and sample id, rewritten when the task's
-- version or the prompt changes), so an answer can be read beside its question, options, gold
-- answer and the exact prompt text without the task plugin (`cvb export --what samples`).
CREATE TABLE IF NOT EXISTS samples (
    task         TEXT NOT NULL,            -- the label predictions are stored under
    sample_id    TEXT NOT NULL,
    task_version TEXT NOT NULL,
    prompt_sha   TEXT NOT NULL,            -- predictions.prompt_sha of this sample's questions
    image        TEXT,                     -- images.image_key: the task's own key of the image
    image_path   TEXT,                     -- absolute path of its file, where the task reads one
    kind         TEXT NOT NULL,            -- yesno | choice | open | caption
    question     TEXT NOT NULL,
    options      TEXT,                     -- JSON list, in letter order A, B, C...
    gold         TEXT,                     -- JSON: the ground truth (a list: several references)
    category     TEXT,
    prompt       TEXT NOT NULL,            -- the text cvb hands the VLM (cvb.prompts.build_prompt)
    generation   TEXT,                     -- JSON {max_new_tokens, stop}
    meta         TEXT,                     -- JSON: the task's other fields of the sample
    PRIMARY KEY (task, sample_id)
);

-- One answer of one VLM to one sample in one cell. The identity (task, vlm, codec, level,
-- sample_id) is UNIQUE; task_version, key (the compressed image), prompt_sha and vlm_version
-- (the model's weights and settings) say what the answer was given for: when they change, the
-- answer is stale and is redone in place.
CREATE TABLE IF NOT EXISTS predictions (
    id           INTEGER PRIMARY KEY,
    task         TEXT NOT NULL,
    task_version TEXT NOT NULL,
    sample_id    TEXT NOT NULL,
    vlm          TEXT NOT NULL,
    vlm_version  TEXT,
    codec        TEXT NOT NULL,
    level        TEXT NOT NULL,
    key          TEXT,                     -- compressed.key, or the content hash for codec none
    prompt_sha   TEXT NOT NULL,
    text         TEXT,
    parsed       TEXT,
    judge        REAL,
    error        TEXT,
    latency_s    REAL,                     -- wall time of its batch / batch size
    run_id       INTEGER,
    updated_ns   INTEGER NOT NULL,
    scored_as    TEXT,                     -- the cell label (protocol, judge) whose rule gave judge
    answer_meta  TEXT,                     -- JSON: the VLM's note on how it answered (Answer.meta), e.g.
                                           -- {"condition": "jpeg/30 (nearest to 75)"} from an adapter
    UNIQUE (task, vlm, codec, level, sample_id)
);

-- Which model versions answered (cvb report's provenance) without reading every answer.
CREATE INDEX IF NOT EXISTS predictions_by_vlm_version ON predictions (vlm, vlm_version);

-- One scored cell of the matrix, rewritten when its inputs change.
CREATE TABLE IF NOT EXISTS cells (
    task             TEXT NOT NULL,
    vlm              TEXT NOT NULL,
    codec            TEXT NOT NULL,
    level            TEXT NOT NULL,
    task_version     TEXT NOT NULL,
    codec_kind       TEXT,
    rate_rank        REAL,                 -- grows with the bitrate of the level
    n                INTEGER NOT NULL,     -- samples in the cell
    n_failed         INTEGER NOT NULL,     -- of which have no usable prediction
    score            REAL,
    score_metric     TEXT,
    higher_is_better INTEGER,
    details          TEXT,                 -- JSON {name: number}
    bpp              REAL,                 -- mean over the cell's distinct images
    metrics          TEXT,                 -- JSON {metric: mean over the cell's distinct images}
    error            TEXT,                 -- why the cell could not be scored
    fingerprint      TEXT,                 -- of the inputs the score was computed from
    run_id           INTEGER,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (task, vlm, codec, level)
);
