-- Service releases: a named snapshot of a service's routes (with their docs) and
-- upstream, taken by `POST /admin/v1/services/{name}/releases` and made what runs by
-- `.../releases/{version}/publish`. `snapshot` is that JSON. A release is a record, not
-- configuration: taking one does not bump the store revision (publishing one writes
-- the service, which does).
CREATE TABLE IF NOT EXISTS service_releases (
    service    TEXT   NOT NULL,
    version    TEXT   NOT NULL,
    notes      TEXT,
    snapshot   TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (service, version)
);
