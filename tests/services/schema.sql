-- tests/services/schema.sql -- the kiln_test database that scripts/services loads: the TechEmpower "world" table of 10,000 rows.
--
-- world(id, randomnumber): ids 1..10000, each with a number in 1..10000,
-- the same numbers on every load (setseed makes random() repeatable).

CREATE TABLE world (
    id integer PRIMARY KEY,
    randomnumber integer NOT NULL
);

SELECT setseed(0.5);
INSERT INTO world (id, randomnumber)
SELECT id, 1 + floor(random() * 10000)::integer
FROM generate_series(1, 10000) AS id;

ANALYZE world;
