// Forward-only schema history. Append a migration; never edit one that has shipped.
#include "engine/store/store.hpp"

namespace ctl::store {

const std::vector<Migration>& migrations() {
    static const std::vector<Migration> kMigrations = {
        {1, R"sql(
            CREATE TABLE meta (
                key   TEXT PRIMARY KEY,
                value TEXT NOT NULL
            ) STRICT;
        )sql"},
        // Images: layers are shared by chain ID and counted through image_layers; the raw
        // config JSON is kept byte-exact (the image ID is its digest).
        {2, R"sql(
            CREATE TABLE layers (
                chain_id          TEXT PRIMARY KEY,
                diff_id           TEXT NOT NULL,
                parent            TEXT REFERENCES layers(chain_id),
                cache_id          TEXT NOT NULL UNIQUE,
                size              INTEGER NOT NULL,
                compressed_digest TEXT,
                compressed_size   INTEGER,
                media_type        TEXT
            ) STRICT;
            CREATE TABLE images (
                id         TEXT PRIMARY KEY,
                config     TEXT NOT NULL,
                created    INTEGER NOT NULL,
                top_layer  TEXT REFERENCES layers(chain_id),
                size       INTEGER NOT NULL,
                parent     TEXT NOT NULL DEFAULT '',
                added_at   INTEGER NOT NULL
            ) STRICT;
            CREATE TABLE image_layers (
                image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
                idx      INTEGER NOT NULL,
                chain_id TEXT NOT NULL REFERENCES layers(chain_id),
                PRIMARY KEY (image_id, idx)
            ) STRICT;
            CREATE INDEX image_layers_chain ON image_layers(chain_id);
            CREATE TABLE image_tags (
                name     TEXT PRIMARY KEY,
                image_id TEXT NOT NULL REFERENCES images(id)
            ) STRICT;
            CREATE INDEX image_tags_image ON image_tags(image_id);
            CREATE TABLE image_digests (
                name       TEXT PRIMARY KEY,
                image_id   TEXT NOT NULL REFERENCES images(id),
                media_type TEXT NOT NULL DEFAULT ''
            ) STRICT;
            CREATE INDEX image_digests_image ON image_digests(image_id);
        )sql"},
        // Where a blob was pulled from, so a push to the same registry can mount it across
        // repositories instead of uploading it again.
        {3, R"sql(
            CREATE TABLE blob_sources (
                digest     TEXT NOT NULL,
                registry   TEXT NOT NULL,
                repository TEXT NOT NULL,
                PRIMARY KEY (digest, registry, repository)
            ) STRICT;
        )sql"},
        // Volumes (volumes/volume_service.cpp): driver options and labels as JSON objects;
        // copy_state of the image copy-up: 0 never, 1 started (a crash left it half done), 2 done.
        // volume_refs: which containers use a volume (kept across restarts, keyed per user).
        {4, R"sql(
            CREATE TABLE volumes (
                name       TEXT PRIMARY KEY,
                driver     TEXT NOT NULL,
                options    TEXT NOT NULL DEFAULT '{}',
                labels     TEXT NOT NULL DEFAULT '{}',
                created_at INTEGER NOT NULL,
                anonymous  INTEGER NOT NULL DEFAULT 0,
                copy_state INTEGER NOT NULL DEFAULT 0
            ) STRICT;
            CREATE TABLE volume_refs (
                volume       TEXT NOT NULL REFERENCES volumes(name),
                container_id TEXT NOT NULL,
                PRIMARY KEY (volume, container_id)
            ) STRICT;
            CREATE INDEX volume_refs_container ON volume_refs(container_id);
        )sql"},
        // Containers: the whole record (config, host config, state) as JSON, with the columns
        // lookups need. Names are unique like Docker's ("/name").
        {5, R"sql(
            CREATE TABLE containers (
                id       TEXT PRIMARY KEY,
                name     TEXT NOT NULL UNIQUE,
                image_id TEXT NOT NULL,
                created  INTEGER NOT NULL,
                record   TEXT NOT NULL
            ) STRICT;
            CREATE INDEX containers_image ON containers(image_id);
        )sql"},
        // Networks (netdriver/network_service.cpp): the record as JSON. endpoints: a running
        // container's address on a network (UNIQUE: never handed out twice); sandboxes: its
        // network namespace and published ports.
        {6, R"sql(
            CREATE TABLE networks (
                id     TEXT PRIMARY KEY,
                name   TEXT NOT NULL UNIQUE,
                record TEXT NOT NULL
            ) STRICT;
            CREATE TABLE sandboxes (
                container_id TEXT PRIMARY KEY,
                netns        TEXT NOT NULL,
                ports        TEXT NOT NULL DEFAULT '[]'
            ) STRICT;
            CREATE TABLE endpoints (
                network_id   TEXT NOT NULL REFERENCES networks(id),
                container_id TEXT NOT NULL REFERENCES sandboxes(container_id),
                address      INTEGER NOT NULL,
                record       TEXT NOT NULL,
                PRIMARY KEY (network_id, container_id),
                UNIQUE (network_id, address)
            ) STRICT;
        )sql"},
    };
    return kMigrations;
}

}  // namespace ctl::store
