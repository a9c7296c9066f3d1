-- The catalog's version, bumped by every change to products in the
-- transaction that makes it, so that each server can keep the catalog in
-- memory and tell cheaply whether its copy is current. Each bump is also
-- announced on the channel catalog_changed (delivered at commit) with the
-- new version, so that servers listening drop their copy at once.
CREATE TABLE catalog_version (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version  bigint NOT NULL
);
INSERT INTO catalog_version (version) VALUES (1);

CREATE FUNCTION bump_catalog_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v bigint;
BEGIN
    UPDATE catalog_version SET version = version + 1 RETURNING version INTO v;
    PERFORM pg_notify('catalog_changed', v::text);
    RETURN NULL;
END $$;
CREATE TRIGGER products_catalog_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version();
