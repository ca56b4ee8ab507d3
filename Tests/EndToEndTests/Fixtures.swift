/// SQL that builds databases for the end-to-end tests.
enum Fixtures {
    /// Many kinds of objects and values: the things a logical backup most often gets wrong.
    static let richSchema = #"""
        CREATE EXTENSION citext;
        CREATE SCHEMA app;
        CREATE SCHEMA "Mixed Case";
        COMMENT ON SCHEMA app IS 'application schema';
        CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
        CREATE DOMAIN app.positive AS integer CHECK (VALUE > 0);
        CREATE TYPE app.pair AS (a integer, b text);
        CREATE SEQUENCE app.ticket_seq START 1000 INCREMENT 7;
        SELECT nextval('app.ticket_seq') FROM generate_series(1, 5);

        CREATE TABLE app.everything (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            t text, c citext, v varchar(20), ch char(3),
            i2 smallint, i4 integer, i8 bigint, n numeric(30, 10), f4 real, f8 double precision,
            b boolean, d date, ts timestamp, tstz timestamptz, tm time, iv interval,
            by bytea, j json, jb jsonb, u uuid, ip inet, mac macaddr, bits bit varying(16),
            arr integer[], tarr text[], r int4range, m app.mood, p app.pair, pos app.positive,
            x xml, pt point, money money,
            doubled integer GENERATED ALWAYS AS (i4 * 2) STORED,
            ticket integer DEFAULT nextval('app.ticket_seq')
        );
        COMMENT ON TABLE app.everything IS 'one of each';
        COMMENT ON COLUMN app.everything.t IS 'text with "quotes"';
        INSERT INTO app.everything (t, c, v, ch, i2, i4, i8, n, f4, f8, b, d, ts, tstz, tm, iv, by, j, jb, u, ip,
                                    mac, bits, arr, tarr, r, m, p, pos, x, pt, money)
        VALUES
          (E'tab\there\nnewline \\ backslash', 'CaseLess', 'v', 'abc', -32768, 1073741823, -9223372036854775808,
           12345678901234567890.0123456789, 'NaN', 'Infinity', true, '2000-02-29', '1999-12-31 23:59:59.999999',
           '2026-11-25 12:00:00+05:30', '23:59:59', '1 year 2 mons 3 days 04:05:06.789', '\x00ff10'::bytea,
           '{"a": [1, 2]}', '{"b": {"c": null}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1/24',
           '08:00:2b:01:02:03', B'1011', '{1,NULL,3}', '{"x y","\"q\"",NULL}', '[1,10)', 'happy', ROW(1, 'one'),
           5, '<a>b</a>', '(1.5,2.5)', 12.34),
          ('日本語 ünïcödé 🚀', NULL, NULL, NULL, NULL, NULL, NULL, '-0.0000000001', '-Infinity', 1e-300, false,
           'infinity', '-infinity', NULL, NULL, '-1 day', '', 'null', '[]', NULL, '::1', NULL, B'', '{}', '{}',
           'empty', 'sad', NULL, NULL, NULL, NULL, NULL),
          (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        INSERT INTO app.everything (t, i4) SELECT 'row ' || g, g FROM generate_series(1, 3000) g;

        CREATE TABLE app.customers (id serial PRIMARY KEY, email citext UNIQUE NOT NULL, region text);
        CREATE TABLE app.orders (
            id bigserial,
            customer_id integer NOT NULL REFERENCES app.customers (id) ON DELETE CASCADE,
            total numeric(12, 2) CHECK (total >= 0), placed date NOT NULL, PRIMARY KEY (id, placed)
        ) PARTITION BY RANGE (placed);
        CREATE TABLE app.orders_2025 PARTITION OF app.orders FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        CREATE TABLE app.orders_2026 PARTITION OF app.orders FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
        CREATE INDEX orders_placed ON app.orders (placed);
        INSERT INTO app.customers (email, region) SELECT 'c' || g || '@example.com', (ARRAY['eu', 'us'])[g % 2 + 1]
          FROM generate_series(1, 200) g;
        INSERT INTO app.orders (customer_id, total, placed)
          SELECT g % 200 + 1, g * 0.5, DATE '2025-06-01' + (g % 400) FROM generate_series(1, 5000) g;
        CREATE INDEX customers_lower ON app.customers (lower(email::text)) WHERE region = 'eu';

        CREATE TABLE app.animals (id serial PRIMARY KEY, name text);
        CREATE TABLE app.dogs (good boolean DEFAULT true) INHERITS (app.animals);
        ALTER TABLE app.animals ADD COLUMN legs integer DEFAULT 4;  -- now sits between dogs' own columns
        INSERT INTO app.animals (name) VALUES ('generic');
        INSERT INTO app.dogs (name, good, legs) VALUES ('rex', true, 3), ('fido', false, 4);

        CREATE UNLOGGED TABLE app.cache (k text PRIMARY KEY, v text);
        INSERT INTO app.cache VALUES ('k1', 'v1');

        CREATE TABLE "Mixed Case"."Table ""Quoted"" Name" ("Column" text);
        INSERT INTO "Mixed Case"."Table ""Quoted"" Name" VALUES ('q');
        CREATE TABLE app.empty_table (id int);

        CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.region := coalesce(NEW.region, 'unknown'); RETURN NEW; END $$;
        CREATE TRIGGER customers_touch BEFORE INSERT ON app.customers FOR EACH ROW EXECUTE FUNCTION app.touch();

        ALTER TABLE app.customers ENABLE ROW LEVEL SECURITY;
        CREATE POLICY eu_only ON app.customers FOR SELECT USING (region = 'eu');

        CREATE VIEW app.big_orders AS SELECT * FROM app.orders WHERE total > 1000;
        CREATE MATERIALIZED VIEW app.order_totals AS
          SELECT customer_id, sum(total) AS total FROM app.orders GROUP BY customer_id;
        CREATE UNIQUE INDEX order_totals_customer ON app.order_totals (customer_id);

        CREATE TABLE app.documents (id serial PRIMARY KEY, body oid);
        INSERT INTO app.documents (body) VALUES (lo_from_bytea(0, 'large object one')),
                                                (lo_from_bytea(0, decode(repeat('ab', 100000), 'hex')));
        DO $$ BEGIN
          EXECUTE format('COMMENT ON LARGE OBJECT %s IS %L', (SELECT min(body) FROM app.documents), 'first blob');
        END $$;
        """#

    /// A small database for tests that need only something to back up.
    static let small = """
        CREATE TABLE accounts (id serial PRIMARY KEY, owner text NOT NULL, balance numeric(12, 2) NOT NULL);
        INSERT INTO accounts (owner, balance) SELECT 'owner ' || g, g * 10 FROM generate_series(1, 500) g;
        CREATE TABLE notes (id serial PRIMARY KEY, account_id int REFERENCES accounts (id), body text);
        INSERT INTO notes (account_id, body) SELECT g % 500 + 1, repeat('note ', g % 20) FROM generate_series(1, 2000) g;
        """

    /// A materialized view whose refresh divides by zero in a database whose name matches `pattern` (SQL LIKE):
    /// a restore into such a database fails in its last step, after all data is loaded.
    static func viewFailingInDatabases(like pattern: String) -> String {
        """
        CREATE FUNCTION guard() RETURNS int LANGUAGE sql AS
          $$ SELECT 1 / (CASE WHEN current_database() LIKE '\(pattern)' THEN 0 ELSE 1 END) $$;
        CREATE MATERIALIZED VIEW guarded AS SELECT guard() AS ok, count(*) FROM accounts;
        """
    }
}
